import { useEffect, useRef, useState, type ReactNode } from "react";
import { NavLink, useLocation, useNavigate } from "react-router-dom";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, must } from "../api/client";
import { useLiveState } from "../api/live";
import { signOut, useMe } from "../auth";
import { applyTheme, storedTheme, type Theme } from "../theme";

const NAV = [
  ["/", "Overview"],
  ["/campaigns", "Campaigns"],
  ["/calls", "Calls"],
  ["/contacts", "Contacts"],
  ["/analytics", "Analytics"],
  ["/settings", "Settings"],
] as const;

export function Layout({ children }: { children: ReactNode }) {
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const { pathname } = useLocation();
  const firstPage = useRef(true);
  // After client-side navigation, keyboard and screen-reader users start at the new page.
  useEffect(() => {
    if (firstPage.current) {
      firstPage.current = false;
      return;
    }
    main.current?.focus();
  }, [pathname]);
  const status = useQuery({
    queryKey: ["status"],
    queryFn: () => must(api.GET("/api/v1/status")),
    staleTime: Infinity,
  });
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
        <span className="brand">Parley</span>
        {status.data && (
          <span
            className={`badge ${status.data.sandbox ? "badge-warn" : "badge-ok"}`}
            title={
              status.data.sandbox
                ? "Simulators stand in for Twilio and ElevenLabs; no real calls are made"
                : "Real calls through Twilio and ElevenLabs"
            }
          >
            {status.data.sandbox ? "Sandbox" : "Production"}
          </span>
        )}
        <LiveBadge />
        <span className="spacer" />
        <ThemeSwitch />
        <span className="who" title={me.role}>
          {me.email ?? "API key"}
        </span>
        <button
          type="button"
          onClick={async () => {
            await signOut();
            client.setQueryData(["me"], null);
            navigate("/");
          }}
        >
          Sign out
        </button>
      </header>
      <nav id="nav" className={menuOpen ? "nav open" : "nav"} aria-label="Main">
        {NAV.map(([to, label]) => (
          <NavLink key={to} to={to} end={to === "/"} onClick={() => setMenuOpen(false)}>
            {label}
          </NavLink>
        ))}
        {me.role === "admin" && (
          <NavLink to="/audit" onClick={() => setMenuOpen(false)}>
            Audit log
          </NavLink>
        )}
      </nav>
      <main id="main" tabIndex={-1} ref={main}>
        {children}
      </main>
    </div>
  );
}

function LiveBadge() {
  const state = useLiveState();
  const label = state === "open" ? "Live" : state === "connecting" ? "Connecting" : "Not live";
  const title =
    state === "open"
      ? "Pages update as calls happen"
      : "Live updates are not connected; pages refresh every few seconds";
  return (
    <span className={`live live-${state}`} title={title}>
      <span className="dot" aria-hidden="true" /> {label}
    </span>
  );
}

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  return (
    <label className="theme">
      <span className="visually-hidden">Colour theme</span>
      <select
        value={theme}
        onChange={(e) => {
          const t = e.target.value as Theme;
          applyTheme(t);
          setTheme(t);
        }}
      >
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
