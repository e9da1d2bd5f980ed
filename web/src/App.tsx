import { lazy, Suspense, useEffect } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { SignedIn, useSession } from "./auth";
import { Layout } from "./components/Layout";
import { Loading, ErrorMessage } from "./components/States";
import { LiveSync } from "./components/LiveSync";
import { live } from "./api/live";
import { SignInPage } from "./pages/SignIn";
import { OverviewPage } from "./pages/Overview";

// Pages past the first screen load on demand, keeping the first render small.
const CampaignsPage = lazy(() => import("./pages/Campaigns"));
const CampaignDetailPage = lazy(() => import("./pages/CampaignDetail"));
const CampaignEditPage = lazy(() => import("./pages/CampaignEdit"));
const CallsPage = lazy(() => import("./pages/Calls"));
const CallDetailPage = lazy(() => import("./pages/CallDetail"));
const ContactsPage = lazy(() => import("./pages/Contacts"));
const ContactDetailPage = lazy(() => import("./pages/ContactDetail"));
const AnalyticsPage = lazy(() => import("./pages/Analytics"));
const SettingsPage = lazy(() => import("./pages/Settings"));
const AuditPage = lazy(() => import("./pages/Audit"));

export function App() {
  const session = useSession();
  const signedIn = !!session.data;
  useEffect(() => {
    if (!signedIn) return;
    live.start();
    return () => live.stop();
  }, [signedIn]);

  if (session.isPending) return <Loading label="Starting Parley" />;
  if (session.isError) return <ErrorMessage error={session.error} retry={() => session.refetch()} />;
  if (!session.data) return <SignInPage />;
  return (
    <SignedIn me={session.data}>
      <LiveSync />
      <Layout>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<OverviewPage />} />
            <Route path="/campaigns" element={<CampaignsPage />} />
            <Route path="/campaigns/new" element={<CampaignEditPage />} />
            <Route path="/campaigns/:id" element={<CampaignDetailPage />} />
            <Route path="/campaigns/:id/edit" element={<CampaignEditPage />} />
            <Route path="/calls" element={<CallsPage />} />
            <Route path="/calls/:id" element={<CallDetailPage />} />
            <Route path="/contacts" element={<ContactsPage />} />
            <Route path="/contacts/:id" element={<ContactDetailPage />} />
            <Route path="/analytics" element={<AnalyticsPage />} />
            <Route path="/settings" element={<SettingsPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="/sign-in" element={<Navigate to="/" replace />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </Layout>
    </SignedIn>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>There is nothing at this address. Use the menu to find your way.</p>
    </section>
  );
}
