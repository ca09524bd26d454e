//! OpenID Connect sign-in against a real provider: the certified `oidc-provider` package
//! under Node (`tests/node/oidc_provider.mjs`), started on loopback by each test. Needs `node`
//! and `npm ci --prefix crates/atelier/tests/node`; without them the tests skip with a printed
//! reason, unless `ATELIER_REQUIRE_NODE=1` (CI), where they fail.

use std::{process::Stdio, time::Duration};

use atelier_platform::oidc::{OidcConfig, ProviderConfig};
use reqwest::{Client, StatusCode, header, redirect::Policy};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{AppOptions, Backend, TestApp, spawn_app_with};
use crate::node::{REQUIRE_NODE_ENV, folder};

const SECRET: &str = "atelier-test-secret";
const APP_CALLBACK: &str = "http://127.0.0.1:9/app-callback";

/// A running test provider (killed when dropped).
struct TestProvider {
    issuer: String,
    _child: tokio::process::Child,
    // Held open: Node dies of EPIPE when it writes to a closed stdout.
    _stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

fn node_ready() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = folder()
        .join("node_modules/oidc-provider/package.json")
        .is_file();
    if node && modules {
        return true;
    }
    let reason = if node {
        format!(
            "oidc-provider is not installed: run `npm ci --prefix {}`",
            folder().display()
        )
    } else {
        "node is not installed".to_owned()
    };
    if std::env::var(REQUIRE_NODE_ENV).as_deref() == Ok("1") {
        panic!("{REQUIRE_NODE_ENV}=1 but {reason}");
    }
    eprintln!("skipping the OpenID Connect test: {reason}");
    false
}

async fn start_provider(config: Value) -> TestProvider {
    let mut child = tokio::process::Command::new("node")
        .arg(folder().join("oidc_provider.mjs"))
        .arg(config.to_string())
        .current_dir(folder())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the test provider");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the test provider did not start in 30 s")
        .expect("read")
        .expect("the test provider exited");
    let ready: Value = serde_json::from_str(&line).expect("ready line");
    TestProvider {
        issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
        _child: child,
        _stdout: lines,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Two providers (the second only to issue tokens from another issuer) and atelier
/// configured with the first as `test` and an unreachable one as `down`.
async fn setup(backend: Backend, auto_link: bool) -> (TestApp, TestProvider, TestProvider) {
    let port = free_port();
    let web_callback = format!("http://127.0.0.1:{port}/api/v1/auth/oidc/test/callback");
    let clients = json!([
        {"client_id": "atelier", "client_secret": SECRET,
         "redirect_uris": [web_callback, APP_CALLBACK]},
        {"client_id": "other-client", "client_secret": SECRET, "redirect_uris": [APP_CALLBACK]},
    ]);
    let provider = start_provider(json!({"clients": clients})).await;
    let other = start_provider(json!({"clients": clients})).await;
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(
        backend,
        AppOptions {
            tweak: Box::new(move |config| {
                let mut test = ProviderConfig::new("test", Some(issuer), "atelier".into());
                test.name = "Test ID".into();
                test.client_secret = Some(SECRET.into());
                test.redirect_uris = vec![APP_CALLBACK.into()];
                let down =
                    ProviderConfig::new("down", Some("http://127.0.0.1:1".into()), "x".into());
                config.oidc = OidcConfig {
                    providers: vec![test, down],
                    auto_link_verified_email: auto_link,
                    http_timeout: Duration::from_secs(5),
                    ..OidcConfig::default()
                };
            }),
            server: Box::new(move |server| {
                server.bind = format!("127.0.0.1:{port}").parse().expect("addr");
            }),
            ..AppOptions::default()
        },
    )
    .await;
    (app, provider, other)
}

/// A browser's cookies, kept by name for every host of the test (atelier's and the
/// provider's names differ), without following redirects.
struct Browser {
    client: Client,
    jar: std::sync::Mutex<Vec<(String, String)>>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        let jar = self.jar.lock().expect("jar");
        jar.iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&self, response: &reqwest::Response) {
        let mut jar = self.jar.lock().expect("jar");
        for value in response.headers().get_all(header::SET_COOKIE) {
            let text = value.to_str().expect("cookie");
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            jar.retain(|(existing, _)| existing != name);
            let cleared = value.is_empty()
                || attributes.to_ascii_lowercase().contains("max-age=0")
                || attributes.contains("1970");
            if !cleared {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        let response = self
            .client
            .get(url)
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {url}: {err:?}"));
        self.absorb(&response);
        response
    }

    async fn post_form(&self, url: &str, body: String) -> reqwest::Response {
        let response = self
            .client
            .post(url)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {url}: {err}"));
        self.absorb(&response);
        response
    }
}

fn browser() -> Browser {
    Browser {
        // A fresh connection per request: the Node server may close a kept-alive one
        // between two steps.
        client: Client::builder()
            .pool_max_idle_per_host(0)
            .redirect(Policy::none())
            .build()
            .expect("client"),
        jar: std::sync::Mutex::new(Vec::new()),
    }
}

fn location(response: &reqwest::Response) -> String {
    let base = response.url().clone();
    let raw = response
        .headers()
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("no Location from {base} ({})", response.status()))
        .to_str()
        .expect("location");
    base.join(raw).expect("join").to_string()
}

/// Follows a browser through the provider from `url` (signing in as `login`, or declining
/// with `None`) until a redirect to `stop` (not fetched); answers that redirect's target.
async fn walk(browser: &Browser, url: &str, login: Option<&str>, stop: &str) -> String {
    let mut next = url.to_owned();
    for _ in 0..12 {
        if next.starts_with(stop) {
            return next;
        }
        let response = browser.get(&next).await;
        if response.status().is_redirection() {
            next = location(&response);
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "{next}");
        assert!(next.contains("/interaction/"), "unexpected page {next}");
        let response = match login {
            Some(login) => {
                browser
                    .post_form(&format!("{next}/login"), form(&[("login", login)]))
                    .await
            }
            None => {
                browser
                    .post_form(&format!("{next}/abort"), String::new())
                    .await
            }
        };
        assert!(response.status().is_redirection(), "{}", response.status());
        next = location(&response);
    }
    panic!("no redirect to {stop} from {url}");
}

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn users(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(app.platform.db().pool())
        .await
        .expect("count")
        .try_get("n")
        .expect("n")
}

/// The web app's flow as a browser does it: login → provider → callback. Answers the
/// callback's redirect target.
async fn web_sign_in(app: &TestApp, browser: &Browser, login: Option<&str>) -> (String, String) {
    let callback = walk(
        browser,
        &app.url("/api/v1/auth/oidc/test/login"),
        login,
        &app.url("/api/v1/auth/oidc/test/callback"),
    )
    .await;
    let response = browser.get(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    (callback, location(&response))
}

async fn me(app: &TestApp, browser: &Browser) -> Value {
    let response = browser.get(&app.url("/api/v1/me")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_web_sign_in_creates_then_finds_the_account_and_refuses_replays() {
    if !node_ready() {
        return;
    }
    let (app, _provider, _other) = setup(Backend::Embedded, false).await;

    let list: Value = app
        .client
        .get(app.url("/api/v1/auth/oidc/providers"))
        .send()
        .await
        .expect("providers")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["id"], "test");
    assert_eq!(list[0]["name"], "Test ID");
    assert_eq!(list[0]["login_url"], "/api/v1/auth/oidc/test/login");

    // First sign-in: an account is created, the same session cookie as a password login.
    let first = browser();
    let before = users(&app).await;
    let (callback, target) = web_sign_in(&app, &first, Some("alice")).await;
    assert_eq!(target, app.url("/"));
    let alice = me(&app, &first).await;
    assert_eq!(alice["username"], "alice");
    assert_eq!(users(&app).await, before + 1);

    // The same answer again (a replayed state) is refused, and creates nothing.
    let replay = first.get(&callback).await;
    assert_eq!(
        location(&replay),
        app.url("/?oidc_error=invalid-state#/login")
    );

    // Second sign-in, in another browser: the same account.
    let second = browser();
    web_sign_in(&app, &second, Some("alice")).await;
    assert_eq!(me(&app, &second).await["id"], alice["id"]);
    assert_eq!(users(&app).await, before + 1);

    // Another person whose preferred name is taken gets a unique username.
    let third = browser();
    web_sign_in(&app, &third, Some("alice@elsewhere.test")).await;
    let other = me(&app, &third).await;
    assert_eq!(other["username"], "alice2");

    // A flow started in one browser cannot be finished in another (login CSRF).
    let starter = browser();
    let callback = walk(
        &starter,
        &app.url("/api/v1/auth/oidc/test/login"),
        Some("mallory"),
        &app.url("/api/v1/auth/oidc/test/callback"),
    )
    .await;
    let victim = browser();
    let response = victim.get(&callback).await;
    assert_eq!(
        location(&response),
        app.url("/?oidc_error=invalid-state#/login")
    );

    // Declining at the provider: a clear error, no account.
    let count = users(&app).await;
    let (_, target) = web_sign_in(&app, &browser(), None).await;
    assert_eq!(target, app.url("/?oidc_error=access-denied#/login"));
    assert_eq!(users(&app).await, count);

    // An unreachable provider and an unknown one.
    let response = browser()
        .get(&app.url("/api/v1/auth/oidc/down/login"))
        .await;
    assert_eq!(
        location(&response),
        app.url("/?oidc_error=provider-unreachable#/login")
    );
    let response = browser()
        .get(&app.url("/api/v1/auth/oidc/nope/login"))
        .await;
    assert_eq!(
        location(&response),
        app.url("/?oidc_error=unknown-provider#/login")
    );
    app.stop().await;
}

/// An API client's code flow: start → provider → its own redirect URI → finish.
async fn api_flow(app: &TestApp, bearer: Option<&str>, link: bool, login: &str) -> (Value, String) {
    let mut request = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/start"))
        .json(&json!({"redirect_uri": APP_CALLBACK, "link": link}));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("start");
    assert_eq!(response.status(), StatusCode::OK);
    let started: Value = response.json().await.expect("json");
    let url = started["authorization_url"].as_str().expect("url");
    let answer = walk(&browser(), url, Some(login), APP_CALLBACK).await;
    let state = query_param(&answer, "state").expect("state");
    assert_eq!(state, started["state"]);
    let code = query_param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let mut request = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/finish"))
        .json(&json!({"state": state, "code": code}));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("finish");
    assert!(response.status().is_success(), "{}", response.status());
    (response.json().await.expect("json"), state)
}

/// An ID token straight from the provider for `client_id` (the test is that client here).
async fn provider_id_token(
    provider: &TestProvider,
    client_id: &str,
    login: &str,
    nonce: Option<&str>,
) -> String {
    let mut auth = reqwest::Url::parse(&format!("{}/auth", provider.issuer)).expect("url");
    auth.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("redirect_uri", APP_CALLBACK)
        .append_pair("state", "s");
    if let Some(nonce) = nonce {
        auth.query_pairs_mut().append_pair("nonce", nonce);
    }
    let answer = walk(&browser(), auth.as_str(), Some(login), APP_CALLBACK).await;
    let code = query_param(&answer, "code").unwrap_or_else(|| panic!("no code in {answer}"));
    let response = Client::new()
        .post(format!("{}/token", provider.issuer))
        .basic_auth(client_id, Some(SECRET))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", APP_CALLBACK),
        ]))
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["id_token"].as_str().expect("id_token").to_owned()
}

async fn exchange(app: &TestApp, id_token: &str, nonce: Option<&str>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/id-token"))
        .json(&json!({"id_token": id_token, "nonce": nonce}))
        .send()
        .await
        .expect("exchange");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

async fn oidc_api_flow_links_accounts_and_the_exchange_checks_every_claim(backend: Backend) {
    if !node_ready() {
        return;
    }
    let (app, provider, other) = setup(backend, false).await;

    // A password user links the provider, then signs in with it.
    let (token, user) = app.register("carol_pw", "Parent").await;
    let (linked, _) = api_flow(&app, Some(&token), true, "carol").await;
    assert_eq!(linked["user"]["id"], user["id"]);
    assert_eq!(linked["identities"][0]["subject"], "carol");
    assert_eq!(linked["identities"][0]["email"], "carol@example.test");
    let (session, state) = api_flow(&app, None, false, "carol").await;
    assert_eq!(session["user"]["id"], user["id"]);
    assert_eq!(session["outcome"], "existing");
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(session["token"].as_str().expect("token"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);

    // A replayed state is refused.
    let response = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/finish"))
        .json(&json!({"state": state, "code": "whatever"}))
        .send()
        .await
        .expect("finish");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid-state");

    // The identity cannot be linked to a second account.
    let (other_token, _) = app.register("dave_pw", "Parent").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/start"))
        .bearer_auth(&other_token)
        .json(&json!({"redirect_uri": APP_CALLBACK, "link": true}))
        .send()
        .await
        .expect("start");
    let started: Value = response.json().await.expect("json");
    let answer = walk(
        &browser(),
        started["authorization_url"].as_str().expect("url"),
        Some("carol"),
        APP_CALLBACK,
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/finish"))
        .json(
            &json!({"state": query_param(&answer, "state"), "code": query_param(&answer, "code")}),
        )
        .send()
        .await
        .expect("finish");
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // A redirect URI the settings do not list is refused.
    let response = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/start"))
        .json(&json!({"redirect_uri": "http://evil.example/cb"}))
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The ID-token exchange: a real token with a nonce atelier issued.
    let nonce: Value = app
        .client
        .post(app.url("/api/v1/auth/oidc/test/nonce"))
        .send()
        .await
        .expect("nonce")
        .json()
        .await
        .expect("json");
    let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
    let id_token = provider_id_token(&provider, "atelier", "erin", Some(&nonce)).await;
    let (status, body) = exchange(&app, &id_token, Some(&nonce)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["username"], "erin");
    assert_eq!(body["outcome"], "created");
    // The same token and nonce again: the nonce is used up.
    let (status, body) = exchange(&app, &id_token, Some(&nonce)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "id-token-bad-nonce");
    // A token carrying a nonce, sent without it.
    let (_, body) = exchange(&app, &id_token, None).await;
    assert_eq!(body["error"]["code"], "id-token-bad-nonce");
    // Without a nonce at all (as the seed's phone client did): accepted, same account.
    let plain = provider_id_token(&provider, "atelier", "erin", None).await;
    let (status, body) = exchange(&app, &plain, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "existing");

    // Wrong audience: a token the provider issued to another client.
    let foreign = provider_id_token(&provider, "other-client", "erin", None).await;
    let (status, body) = exchange(&app, &foreign, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "id-token-wrong-audience");

    // Wrong issuer: a token for the same client id from another provider.
    let elsewhere = provider_id_token(&other, "atelier", "erin", None).await;
    let (_, body) = exchange(&app, &elsewhere, None).await;
    assert_eq!(body["error"]["code"], "id-token-wrong-issuer");

    // Bad signature: one character inside the signature changed (not the last one, whose low
    // bits are padding that a decoder may ignore).
    let mut forged: Vec<char> = plain.chars().collect();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let (_, body) = exchange(&app, &forged, None).await;
    assert_eq!(body["error"]["code"], "id-token-bad-signature");
    // A tampered payload with the original signature.
    let parts: Vec<&str> = plain.split('.').collect();
    let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    let (status, _) = exchange(&app, &tampered, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Expired: signed by the provider's own key, but past its expiry.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let minted: Value = Client::new()
        .post(format!("{}/__test/mint", provider.issuer))
        .json(
            &json!({"iss": provider.issuer, "aud": "atelier", "sub": "erin",
            "iat": now - 7200, "exp": now - 3600}),
        )
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("json");
    let (status, body) = exchange(&app, minted["id_token"].as_str().expect("token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "id-token-expired");
    app.stop().await;
}

async fn oidc_links_by_verified_email_only_when_enabled(backend: Backend) {
    if !node_ready() {
        return;
    }
    let (app, provider, other) = setup(backend, true).await;
    // An account made through the first provider (verified email frank@example.test)…
    let first = provider_id_token(&provider, "atelier", "frank", None).await;
    let (status, body) = exchange(&app, &first, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let frank = body["user"]["id"].clone();
    // …is found by a second identity with the same verified email. Here the second identity
    // is the other issuer's (configured as a second provider would be, through the library's
    // check of its own issuer): simulate with the identities table directly instead.
    drop(other);
    use atelier_platform::oidc::{VerifiedIdentity, identities};
    let same_email = VerifiedIdentity {
        provider: "corp".into(),
        issuer: "https://id.corp.example".into(),
        subject: "f-1".into(),
        email: Some("frank@example.test".into()),
        email_verified: true,
        preferred_username: None,
        name: None,
    };
    let (user, outcome) = identities::sign_in(app.platform.db(), &same_email, true)
        .await
        .expect("sign in");
    assert_eq!(json!(user.id), frank);
    assert_eq!(outcome, identities::SignInOutcome::LinkedByEmail);
    // An unverified email never links.
    let unverified = VerifiedIdentity {
        subject: "f-2".into(),
        email_verified: false,
        ..same_email.clone()
    };
    let (user, outcome) = identities::sign_in(app.platform.db(), &unverified, true)
        .await
        .expect("sign in");
    assert_ne!(json!(user.id), frank);
    assert_eq!(outcome, identities::SignInOutcome::Created);
    // Disabled: a verified email does not link either.
    let third = VerifiedIdentity {
        subject: "f-3".into(),
        ..same_email
    };
    let (user, _) = identities::sign_in(app.platform.db(), &third, false)
        .await
        .expect("sign in");
    assert_ne!(json!(user.id), frank);
    app.stop().await;
}

crate::on_both_backends!(oidc_api_flow_links_accounts_and_the_exchange_checks_every_claim);

crate::on_both_backends!(oidc_links_by_verified_email_only_when_enabled);

/// The web app's "Sign in with …" button in headless Chromium (`tests/web/oidc.mjs`): signing
/// in at the provider comes back signed in as a new account; declining comes back to the
/// sign-in page with the `access-denied` message, and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_button_flow_in_headless_chromium() {
    if !node_ready() || !crate::web::browser_available() {
        return;
    }
    let (app, _provider, _other) = setup(Backend::Embedded, false).await;
    let screenshots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let login = format!("webuser{}", crate::helpers::random_suffix());
    let config = json!({
        "base": app.base,
        "out": screenshots,
        "chromium": crate::web::chromium(),
        "provider_name": "Test ID",
        "login": login,
    });
    let before = users(&app).await;
    let lines = crate::node::run_script(
        &crate::web::folder().join("oidc.mjs"),
        &[config.to_string()],
        Duration::from_secs(180),
    )
    .await;
    let signed_in = lines
        .iter()
        .find(|l| l["ev"] == "signed-in")
        .expect("signed-in step");
    let username = signed_in["username"].as_str().expect("username");
    assert!(username.starts_with("webuser"), "{username} for {login}");
    let declined = lines
        .iter()
        .find(|l| l["ev"] == "declined")
        .expect("declined step");
    assert_eq!(declined["code"], "access-denied");
    assert_eq!(
        users(&app).await,
        before + 1,
        "one account, from the sign-in only"
    );
}
