//! Points the embedded dashboard at `web/dist` when it has been built (`npm run build` in
//! `web/`), or at a one-page placeholder that says how to build it, so a fresh clone
//! compiles without Node.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    // Cargo rescans a watched directory, so new hashed files trigger a rebuild too. A
    // missing path would rerun this script (and rebuild the crate) on every build, so
    // until the dashboard is built, `web/` itself is watched for `dist` to appear.
    let watched = if dist.is_dir() { &dist } else { &web };
    println!("cargo:rerun-if-changed={}", watched.display());
    let folder = if dist.join("index.html").is_file() {
        dist.canonicalize().expect("web/dist is readable")
    } else {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"))
            .join("dashboard-placeholder");
        std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
        std::fs::write(out.join("index.html"), PLACEHOLDER).expect("OUT_DIR is writable");
        out
    };
    println!("cargo:rustc-env=PARLEY_DASHBOARD_DIR={}", folder.display());
}

// No inline style: the dashboard's Content-Security-Policy would refuse it.
const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Parley</h1>
<p>This binary was built without the dashboard. Build it with <code>scripts/run</code>
(or <code>cd web &amp;&amp; npm install &amp;&amp; npm run build</code>, then rebuild Parley).</p>
<p>The API is running: see <a href="/docs">the API docs</a>.</p>
</body></html>
"#;
