//! Starts Parley on 127.0.0.1:0 with a fresh database and keys for each role.
use parley_domain::Role;
use parley_engine::accounts::{self, ApiKeySpec};
use parley_engine::settings::Settings;
use parley_sandbox::Sandbox;
use parley_server::RunningServer;
use parley_store::Store;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// One node, wired as the binary wires it: bound listener, services (the simulators in
/// sandbox mode), then the server.
pub struct Node {
    pub server: RunningServer,
    pub sandbox: Option<Sandbox>,
}

impl Node {
    pub async fn start(mut settings: Settings, store: Store) -> Node {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .unwrap();
        parley_engine::private_files::secure_data_dir_logged(&settings.data_dir).unwrap();
        let bound = listener.local_addr().unwrap();
        let services = parley_sandbox::telephony(&mut settings, bound)
            .await
            .unwrap();
        let server = parley_server::spawn(settings, store, listener, services.telephony)
            .await
            .unwrap();
        Node {
            server,
            sandbox: services.sandbox,
        }
    }

    pub fn engine(&self) -> &parley_engine::Engine {
        &self.server.engine
    }

    pub async fn stop(self) {
        self.server.stop().await.unwrap();
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
    }
}

/// A test node's settings: its data directory and database, free ports for HTTP and
/// metrics (tests run several nodes at once), loopback allowed for webhook receivers.
pub fn node_settings(data_dir: &std::path::Path, database_url: String) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database_url),
        // The tests' webhook receivers listen on loopback, which the egress policy
        // refuses unless allowed by name.
        egress: parley_engine::settings::EgressSettings {
            allowed_hosts: vec!["127.0.0.1".into()],
        },
        metrics: parley_engine::settings::MetricsSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
        ..Settings::default()
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub admin_key: String,
    pub operator_key: String,
    pub viewer_key: String,
    pub engine: parley_engine::Engine,
    pub database_url: String,
    node: Option<Node>,
    /// Dropped with the app, also when a test fails: the database goes with it.
    postgres: Option<parley_store::testing::TestDatabase>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// The sandbox's fake Google Sheets (in sandbox mode without Google credentials).
    pub fn sandbox_sheets(&self) -> parley_sim::fakes::sheets::FakeSheets {
        self.node
            .as_ref()
            .and_then(|n| n.sandbox.as_ref())
            .and_then(|s| s.sheets.as_ref())
            .map(|f| f.state.clone())
            .expect("the sandbox's Google Sheets")
    }

    /// An app whose dialer is off: campaigns stay as the test leaves them.
    pub async fn start() -> TestApp {
        Self::start_on(Db::Sqlite, |s| s.dialer.enabled = false).await
    }

    /// Creates a campaign named `name` with one contact enrolled, so it may be started;
    /// returns its id.
    pub async fn campaign_with_contact(&self, name: &str) -> i64 {
        let (status, campaign) = self
            .call(
                Method::POST,
                "/api/v1/campaigns",
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{campaign}");
        let id = campaign["id"].as_i64().unwrap();
        let (status, contact) = self
            .call(
                Method::POST,
                "/api/v1/contacts",
                Some(serde_json::json!({"phone": "+14155559900"})),
            )
            .await;
        assert_eq!(status, 201, "{contact}");
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/campaigns/{id}/contacts"),
                Some(serde_json::json!({"contact_ids": [contact["id"]]})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// A production-mode app (SQLite, dialer off) whose Twilio and ElevenLabs are the
    /// simulators at these base URLs, with the sandbox credentials; `tweak` goes last.
    pub async fn on_simulators(
        twilio_url: &str,
        elevenlabs_url: &str,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        use parley_engine::telephony::sandbox_credentials as creds;
        let (twilio_url, elevenlabs_url) =
            (twilio_url.parse().unwrap(), elevenlabs_url.parse().unwrap());
        TestApp::start_on(Db::Sqlite, move |s| {
            s.twilio.account_sid = Some(creds::TWILIO_ACCOUNT_SID.into());
            s.twilio.auth_token = Some(creds::TWILIO_AUTH_TOKEN.into());
            s.twilio.api_base_url = twilio_url;
            s.elevenlabs.api_key = Some(creds::ELEVENLABS_API_KEY.into());
            s.elevenlabs.api_base_url = elevenlabs_url;
            s.dialer.enabled = false;
            tweak(s);
        })
        .await
    }

    pub async fn start_on(db: Db, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        crate::suite_log::install();
        let dir = tempfile::tempdir().unwrap();
        let postgres = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(parley_store::testing::TestDatabase::create("parley_api").await),
        };
        let url = match &postgres {
            None => format!("sqlite://{}", dir.path().join("parley.db").display()),
            Some(db) => db.url.clone(),
        };
        let store = Store::open(&url).await.unwrap();
        let database_url = url.clone();
        let mut settings = node_settings(dir.path(), url);
        tweak(&mut settings);
        accounts::create_user(&store, ADMIN_EMAIL, ADMIN_PASSWORD, Role::Admin, None)
            .await
            .unwrap();
        let key = |role: Role| {
            let store = store.clone();
            async move {
                let spec = ApiKeySpec {
                    name: role.as_str(),
                    role,
                    expires_at_millis: None,
                    created_by: None,
                };
                accounts::create_api_key(&store, spec, None)
                    .await
                    .unwrap()
                    .1
            }
        };
        let (admin_key, operator_key, viewer_key) = (
            key(Role::Admin).await,
            key(Role::Operator).await,
            key(Role::Viewer).await,
        );
        let node = Node::start(settings, store.clone()).await;
        TestApp {
            engine: node.engine().clone(),
            database_url,
            base: format!("http://{}", node.server.addr),
            http: reqwest::Client::new(),
            store,
            admin_key,
            operator_key,
            viewer_key,
            node: Some(node),
            postgres,
            _dir: dir,
        }
    }

    /// The simulators (the app runs in sandbox mode unless credentials were set).
    pub fn sandbox(&self) -> &Sandbox {
        self.node
            .as_ref()
            .and_then(|n| n.sandbox.as_ref())
            .expect("sandbox mode")
    }

    /// `/metrics` on the node's metrics listener.
    pub fn metrics_url(&self) -> String {
        let addr = self
            .node
            .as_ref()
            .and_then(|n| n.server.metrics_addr)
            .expect("the metrics listener runs");
        format!("http://{addr}/metrics")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request authenticated with `key`.
    pub fn req(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(key)
    }

    /// As the operator: sends JSON, returns status and JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.req(method, path, &self.operator_key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        read(r.send().await.unwrap()).await
    }

    pub async fn stop(mut self) {
        if let Some(node) = self.node.take() {
            node.stop().await;
        }
        self.store.close().await;
        drop(self.postgres.take());
    }
}

pub async fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts the stable error shape and returns its code.
pub fn error_code(body: &Value) -> &str {
    let e = &body["error"];
    assert!(
        e["message"].is_string(),
        "error body without message: {body}"
    );
    e["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// Waits for the webhook worker's next recorded attempt (any delivery's).
pub async fn next_webhook_attempt(
    events: &mut tokio::sync::broadcast::Receiver<parley_engine::events::LiveEvent>,
) {
    loop {
        match events.recv().await {
            Ok(parley_engine::events::LiveEvent::WebhookDeliveryChanged { .. }) => return,
            // Missed events may have held one: look again.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => panic!("the engine stopped"),
        }
    }
}
