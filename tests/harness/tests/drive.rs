//! The Google Drive contract server over real HTTP: the desktop sign-in (code, PKCE,
//! refresh), files and their query language, comments and replies, partial responses,
//! and how it all fails.

use base64::Engine;
use deepwork_harness::drive::{
    BOB, CLIENT_ID, CLIENT_SECRET, DriveContract, ME, ME_EMAIL, SCOPE_DRIVE, SCOPE_DRIVE_READONLY,
    SCOPE_METADATA_READONLY, SPREADSHEET,
};
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::HashMap;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-deepwork";
const REDIRECT: &str = "http://127.0.0.1:53682/";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn auth_params(scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLIENT_ID.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", scope.to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
        ("state", "xyz-123".to_owned()),
        ("access_type", "offline".to_owned()),
    ]
}

/// The test's side of the wire: the app's HTTP client and a browser that does not
/// follow redirects, so the test sees where consent sends it.
struct Google {
    drive: DriveContract,
    app: reqwest::Client,
    browser: reqwest::Client,
}

impl Google {
    async fn start() -> Google {
        Google {
            drive: DriveContract::start().await,
            app: reqwest::Client::new(),
            browser: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    /// Visits the consent page; the status and, on a redirect, the redirect's query.
    async fn consent(&self, params: &[(&str, String)]) -> (u16, HashMap<String, String>) {
        let response = self
            .browser
            .get(self.drive.authorize_url())
            .query(params)
            .send()
            .await
            .expect("consent");
        let status = response.status().as_u16();
        let query = response
            .headers()
            .get("location")
            .map(|l| {
                let location = l.to_str().expect("location");
                let (to, query) = location.split_once('?').expect("query");
                assert_eq!(to, REDIRECT);
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        (status, query)
    }

    async fn post_token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let request = self.app.post(self.drive.token_url()).form(form);
        let response = request.send().await.expect("token");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    async fn exchange(&self, code: &str) -> (u16, Value) {
        self.post_token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await
    }

    /// The whole sign-in for `scope`; the access token.
    async fn sign_in(&self, scope: &str) -> String {
        let (status, back) = self.consent(&auth_params(scope)).await;
        assert_eq!(status, 302);
        let (status, tokens) = self.exchange(&back["code"]).await;
        assert_eq!(status, 200, "{tokens}");
        tokens["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    async fn get(&self, token: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let url = format!("{}/drive/v3/{path}", self.drive.base);
        let request = self.app.get(url).bearer_auth(token).query(query);
        let response = request.send().await.expect("request");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    async fn post(
        &self,
        token: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Value,
    ) -> (u16, Value) {
        let url = format!("{}/drive/v3/{path}", self.drive.base);
        let request = self
            .app
            .post(url)
            .bearer_auth(token)
            .query(query)
            .json(&body);
        let response = request.send().await.expect("request");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    /// Files matching `q`, most recently modified first.
    async fn files(&self, token: &str, q: &str) -> Value {
        let query = [
            ("q", q),
            ("fields", FILE_FIELDS),
            ("orderBy", "modifiedTime desc"),
        ];
        let (status, list) = self.get(token, "files", &query).await;
        assert_eq!(status, 200, "{q}: {list}");
        list
    }
}

const FILE_FIELDS: &str =
    "files(id,name,mimeType,webViewLink,modifiedTime,owners(displayName,me,emailAddress))";

fn assert_error(status: u16, body: &Value, want_status: u16, reason: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_status, "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], reason, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["status"].is_string(), "{body}");
}

fn names(list: &Value) -> Vec<&str> {
    list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect()
}

#[tokio::test]
async fn sign_in_with_code_pkce_and_refresh() {
    let g = Google::start().await;

    let (status, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    assert_eq!(status, 302);
    assert_eq!(back["state"], "xyz-123");
    assert_eq!(back["scope"], SCOPE_DRIVE_READONLY);
    let code = back["code"].clone();

    let (status, body) = g
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    let (status, tokens) = g.exchange(&code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], SCOPE_DRIVE_READONLY);
    assert!(tokens["expires_in"].as_u64().is_some_and(|s| s > 3000));
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    // A code works once.
    let (status, body) = g.exchange(&code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let (status, about) = g.get(&access, "about", &[("fields", "user")]).await;
    assert_eq!(status, 200, "{about}");

    g.drive.state.lock().unwrap().expire_access_tokens();
    let (status, body) = g.get(&access, "about", &[("fields", "user")]).await;
    assert_error(status, &body, 401, "authError");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");

    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let (status, renewed) = g.post_token(&refresh_form).await;
    assert_eq!(status, 200, "{renewed}");
    assert!(
        renewed.get("refresh_token").is_none(),
        "Google keeps the refresh token: {renewed}"
    );
    assert_eq!(renewed["scope"], SCOPE_DRIVE_READONLY);
    let renewed = renewed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(renewed, access);
    let (status, _) = g.get(&renewed, "about", &[("fields", "user")]).await;
    assert_eq!(status, 200);

    g.drive.state.lock().unwrap().revoke();
    let (status, body) = g.post_token(&refresh_form).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." })
    );
    let (status, body) = g.get(&renewed, "about", &[("fields", "user")]).await;
    assert_error(status, &body, 401, "authError");

    // HTTP Basic client authentication works as well as the form.
    let (_, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    let response = g
        .app
        .post(g.drive.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", back["code"].as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn sign_in_refuses_what_google_refuses() {
    let g = Google::start().await;
    let with = |key: &'static str, value: &str| {
        let mut params = auth_params(SCOPE_DRIVE_READONLY);
        params.retain(|(k, _)| *k != key);
        params.push((key, value.to_owned()));
        params
    };

    let (status, back) = g
        .consent(&with("client_id", "nobody.apps.googleusercontent.com"))
        .await;
    assert_eq!((status, back.is_empty()), (401, true));
    let (status, _) = g.consent(&with("code_challenge_method", "plain")).await;
    assert_eq!(status, 400);
    let (status, _) = g
        .consent(&with("scope", "https://www.googleapis.com/auth/nonsense"))
        .await;
    assert_eq!(status, 400);
    let response = g
        .browser
        .get(g.drive.authorize_url())
        .query(&with("redirect_uri", "https://evil.example.com/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.headers().get("location").is_none());

    g.drive.state.lock().unwrap().deny_sign_in = true;
    let (status, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    assert_eq!(status, 302);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "xyz-123");
    assert!(!back.contains_key("code"));
    g.drive.state.lock().unwrap().deny_sign_in = false;

    let (_, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    let (status, body) = g
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("code", back["code"].as_str()),
            (
                "code_verifier",
                "not-the-verifier-that-made-the-challenge-at-all",
            ),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let (_, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    let (status, body) = g
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("code", back["code"].as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:9/"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("redirect_uri_mismatch")),
        "{body}"
    );

    let (status, body) = g
        .post_token(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{body}"
    );
    let (status, body) = g
        .post_token(&[("grant_type", "refresh_token"), ("client_id", "x")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

#[tokio::test]
async fn refresh_tokens_need_offline_access_and_come_once() {
    let g = Google::start().await;
    let online: Vec<_> = auth_params(SCOPE_DRIVE_READONLY)
        .into_iter()
        .filter(|(k, _)| *k != "access_type")
        .collect();
    let (_, back) = g.consent(&online).await;
    let (_, tokens) = g.exchange(&back["code"]).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");

    let (_, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    let (_, tokens) = g.exchange(&back["code"]).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    // Consent already given: no second refresh token unless the app asks again.
    let (_, back) = g.consent(&auth_params(SCOPE_DRIVE_READONLY)).await;
    let (_, tokens) = g.exchange(&back["code"]).await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let mut again = auth_params(SCOPE_DRIVE_READONLY);
    again.push(("prompt", "consent".to_owned()));
    let (_, back) = g.consent(&again).await;
    let (_, tokens) = g.exchange(&back["code"]).await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn about_needs_fields() {
    let g = Google::start().await;
    let token = g.sign_in(SCOPE_METADATA_READONLY).await;

    let (status, body) = g.get(&token, "about", &[]).await;
    assert_error(status, &body, 400, "required");
    let (status, about) = g.get(&token, "about", &[("fields", "user")]).await;
    assert_eq!(status, 200, "{about}");
    let user = &about["user"];
    assert_eq!(user["displayName"], ME);
    assert_eq!(user["emailAddress"], ME_EMAIL);
    assert_eq!(user["me"], true);
    assert!(user["permissionId"].is_string());
    assert!(about.get("kind").is_none(), "only what was asked: {about}");

    let (_, about) = g
        .get(&token, "about", &[("fields", "user(displayName,me)")])
        .await;
    assert_eq!(about, json!({ "user": { "displayName": ME, "me": true } }));
    let (status, body) = g.get(&token, "about", &[("fields", "usr")]).await;
    assert_error(status, &body, 400, "invalidParameter");
    let (status, body) = g
        .get(&token, "about", &[("fields", "user(displayName")])
        .await;
    assert_error(status, &body, 400, "invalidParameter");
}

#[tokio::test]
async fn files_query_order_paging_and_fields() {
    let g = Google::start().await;
    let token = g.sign_in(SCOPE_METADATA_READONLY).await;
    let (plan, since) = {
        let mut state = g.drive.state.lock().unwrap();
        let plan = state.create_doc("Launch plan", true);
        state.create_doc("Bob's notes", false);
        state.create_file("Budget", SPREADSHEET, true);
        let old = state.create_doc("Old draft", true);
        state.trash(&old);
        let since = state.files[3].modified;
        state.edit(&plan);
        (plan, since)
    };
    let since = jiff::Timestamp::try_from(since).unwrap().to_string();

    let (status, list) = g.get(&token, "files", &[]).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["kind"], "drive#fileList");
    assert_eq!(
        names(&list),
        ["Launch plan", "Bob's notes", "Budget", "Old draft"]
    );
    let file = &list["files"][0];
    let mut keys: Vec<&String> = file.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["id", "kind", "mimeType", "name"],
        "default fields only: {file}"
    );

    let mine = g.files(&token, "'me' in owners and trashed = false").await;
    assert_eq!(names(&mine), ["Launch plan", "Budget"]);
    let doc = &mine["files"][0];
    assert_eq!(doc["id"], plan);
    assert_eq!(doc["mimeType"], "application/vnd.google-apps.document");
    assert_eq!(
        doc["webViewLink"],
        format!("https://docs.google.com/document/d/{plan}/edit")
    );
    assert_eq!(
        doc["owners"],
        json!([{ "displayName": ME, "me": true, "emailAddress": ME_EMAIL }])
    );
    assert!(doc.get("kind").is_none());

    let docs = g
        .files(
            &token,
            "mimeType = 'application/vnd.google-apps.document' and not trashed = true",
        )
        .await;
    assert_eq!(names(&docs), ["Launch plan", "Bob's notes"]);
    let recent = g.files(&token, &format!("modifiedTime > '{since}'")).await;
    assert_eq!(names(&recent), ["Launch plan"]);
    let either = g
        .files(
            &token,
            "(name contains 'bud' or 'bob@example.com' in owners) and trashed = false",
        )
        .await;
    assert_eq!(names(&either), ["Budget", "Bob's notes"]);
    let shared = g.files(&token, "sharedWithMe = true").await;
    assert_eq!(names(&shared), ["Bob's notes"]);
    let quoted = g.files(&token, r"name = 'Bob\'s notes'").await;
    assert_eq!(names(&quoted), ["Bob's notes"]);
    // `contains` on names matches word prefixes only.
    assert_eq!(
        names(&g.files(&token, "name contains 'lan'").await),
        Vec::<&str>::new()
    );
    let (_, by_name) = g.get(&token, "files", &[("orderBy", "name")]).await;
    assert_eq!(
        names(&by_name),
        ["Bob's notes", "Budget", "Launch plan", "Old draft"]
    );

    for bad in [
        "fullText contains 'x'",
        "modifiedTime > 'yesterday'",
        "name = ",
        "(trashed = false",
    ] {
        let (status, body) = g.get(&token, "files", &[("q", bad)]).await;
        assert_error(status, &body, 400, "invalid");
        assert_eq!(body["error"]["errors"][0]["location"], "q", "{bad}");
    }
    let (status, body) = g.get(&token, "files", &[("fields", "files(id,nme)")]).await;
    assert_error(status, &body, 400, "invalidParameter");

    // Paging: the token only comes back if `fields` asks for it.
    let (_, first) = g
        .get(
            &token,
            "files",
            &[("pageSize", "3"), ("fields", "files(id)")],
        )
        .await;
    assert_eq!(first["files"].as_array().unwrap().len(), 3);
    assert!(first.get("nextPageToken").is_none(), "{first}");
    let (_, first) = g
        .get(
            &token,
            "files",
            &[("pageSize", "3"), ("fields", "nextPageToken,files(name)")],
        )
        .await;
    let next = first["nextPageToken"]
        .as_str()
        .expect("next page")
        .to_owned();
    let (_, rest) = g
        .get(
            &token,
            "files",
            &[
                ("pageSize", "3"),
                ("pageToken", &next),
                ("fields", "nextPageToken,files(name)"),
            ],
        )
        .await;
    assert_eq!(names(&rest), ["Old draft"]);
    assert!(rest.get("nextPageToken").is_none());
    let (status, body) = g.get(&token, "files", &[("pageSize", "1001")]).await;
    assert_error(status, &body, 400, "invalid");
}

#[tokio::test]
async fn comments_replies_mentions_and_modified_times() {
    let g = Google::start().await;
    let token = g.sign_in(SCOPE_DRIVE_READONLY).await;
    let (doc, old, fresh, file_modified) = {
        let mut state = g.drive.state.lock().unwrap();
        let doc = state.create_doc("Launch plan", false);
        let file_modified = state.files[0].modified;
        let old = state.comment(
            &doc,
            BOB,
            "Is the date right? +alice@example.com",
            Some("May 3"),
        );
        let fresh = state.comment(&doc, BOB, "Typo here", None);
        let gone = state.comment(&doc, BOB, "never mind", None);
        state.delete_comment(&doc, &gone);
        (doc, old, fresh, file_modified)
    };
    let path = format!("files/{doc}/comments");
    let all = "comments(id,content,htmlContent,author,createdTime,modifiedTime,resolved,deleted,quotedFileContent,mentionedEmailAddresses,replies(id,content,author,action,createdTime)),nextPageToken";

    let (status, body) = g.get(&token, &path, &[]).await;
    assert_error(status, &body, 400, "required");

    let (status, list) = g.get(&token, &path, &[("fields", all)]).await;
    assert_eq!(status, 200, "{list}");
    let comments = list["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "deleted comments stay out: {list}");
    let first = &comments[0];
    assert_eq!(first["id"], old);
    assert_eq!(first["content"], "Is the date right? +alice@example.com");
    assert_eq!(first["mentionedEmailAddresses"], json!([ME_EMAIL]));
    assert_eq!(first["quotedFileContent"]["value"], "May 3");
    assert_eq!(first["author"]["displayName"], BOB);
    assert_eq!(first["author"]["me"], false);
    assert!(first["author"].get("emailAddress").is_none(), "{first}");
    assert_eq!(first["resolved"], false);
    assert_eq!(first["replies"], json!([]));
    assert!(first.get("kind").is_none());
    assert_eq!(comments[1]["mentionedEmailAddresses"], json!([]));

    // A reply brings the old comment back past startModifiedTime.
    let cutoff = comments[1]["modifiedTime"].as_str().unwrap().to_owned();
    let (_, list) = g
        .get(
            &token,
            &path,
            &[("fields", all), ("startModifiedTime", &cutoff)],
        )
        .await;
    let ids: Vec<&Value> = list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!(fresh)]);
    g.drive
        .state
        .lock()
        .unwrap()
        .reply(&doc, &old, BOB, "ping +alice@example.com");
    let (_, list) = g
        .get(
            &token,
            &path,
            &[("fields", all), ("startModifiedTime", &cutoff)],
        )
        .await;
    let comments = list["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0]["id"], old);
    assert!(comments[0]["modifiedTime"].as_str().unwrap() > cutoff.as_str());
    assert_eq!(
        comments[0]["replies"][0]["content"],
        "ping +alice@example.com"
    );
    assert_eq!(comments[0]["replies"][0]["author"]["displayName"], BOB);

    g.drive.state.lock().unwrap().resolve(&doc, &fresh);
    let (_, list) = g
        .get(
            &token,
            &path,
            &[("fields", "comments(id,resolved,replies(action))")],
        )
        .await;
    assert_eq!(
        list["comments"][1],
        json!({ "id": fresh, "resolved": true, "replies": [{ "action": "resolve" }] })
    );

    let (_, list) = g
        .get(
            &token,
            &path,
            &[
                ("fields", "comments(deleted,content)"),
                ("includeDeleted", "true"),
            ],
        )
        .await;
    assert_eq!(list["comments"][2], json!({ "deleted": true }));

    let (_, page) = g
        .get(
            &token,
            &path,
            &[("fields", "comments(id),nextPageToken"), ("pageSize", "1")],
        )
        .await;
    assert_eq!(page["comments"], json!([{ "id": old }]));
    let next = page["nextPageToken"].as_str().unwrap().to_owned();
    let (_, page) = g
        .get(
            &token,
            &path,
            &[
                ("fields", "comments(id),nextPageToken"),
                ("pageToken", &next),
            ],
        )
        .await;
    assert_eq!(page, json!({ "comments": [{ "id": fresh }] }));

    // Comments and replies leave the file's modifiedTime alone.
    assert_eq!(g.drive.now().files[0].modified, file_modified);

    let (status, body) = g
        .get(&token, "files/nope/comments", &[("fields", all)])
        .await;
    assert_error(status, &body, 404, "notFound");
    let (status, body) = g
        .get(
            &token,
            &path,
            &[("fields", all), ("startModifiedTime", "soon")],
        )
        .await;
    assert_error(status, &body, 400, "invalid");

    let metadata_only = g.sign_in(SCOPE_METADATA_READONLY).await;
    let (status, body) = g.get(&metadata_only, &path, &[("fields", all)]).await;
    assert_error(status, &body, 403, "insufficientPermissions");
    let (status, _) = g.get(&metadata_only, "files", &[]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_user_replies_and_resolves() {
    let g = Google::start().await;
    let (doc, comment) = {
        let mut state = g.drive.state.lock().unwrap();
        let doc = state.create_doc("Launch plan", true);
        let comment = state.comment(&doc, BOB, "+alice@example.com can you look?", None);
        (doc, comment)
    };
    let path = format!("files/{doc}/comments/{comment}/replies");

    let readonly = g.sign_in(SCOPE_DRIVE_READONLY).await;
    let (status, body) = g
        .post(
            &readonly,
            &path,
            &[("fields", "id")],
            json!({ "content": "x" }),
        )
        .await;
    assert_error(status, &body, 403, "insufficientPermissions");

    let token = g.sign_in(&format!("{SCOPE_DRIVE} openid email")).await;
    let (status, body) = g.post(&token, &path, &[], json!({ "content": "x" })).await;
    assert_error(status, &body, 400, "required");
    let (status, body) = g.post(&token, &path, &[("fields", "id")], json!({})).await;
    assert_error(status, &body, 400, "required");
    let (status, body) = g
        .post(
            &token,
            &path,
            &[("fields", "id")],
            json!({ "action": "close" }),
        )
        .await;
    assert_error(status, &body, 400, "invalid");

    let (status, reply) = g
        .post(
            &token,
            &path,
            &[(
                "fields",
                "id,content,author(displayName,me),action,createdTime",
            )],
            json!({ "content": "In focus until 15:00, will look then." }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["content"], "In focus until 15:00, will look then.");
    assert_eq!(reply["author"], json!({ "displayName": ME, "me": true }));
    assert!(reply.get("action").is_none());

    let (status, resolved) = g
        .post(
            &token,
            &path,
            &[("fields", "action")],
            json!({ "action": "resolve" }),
        )
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved, json!({ "action": "resolve" }));
    let state = g.drive.now();
    let comment_now = &state.files[0].comments[0];
    assert!(comment_now.resolved);
    assert_eq!(comment_now.replies.len(), 2);
    assert_eq!(comment_now.modified, comment_now.replies[1].created);

    let (status, body) = g
        .post(
            &token,
            &format!("files/{doc}/comments/nope/replies"),
            &[("fields", "id")],
            json!({ "content": "x" }),
        )
        .await;
    assert_error(status, &body, 404, "notFound");
}

#[tokio::test]
async fn quota_errors_and_call_log() {
    let g = Google::start().await;
    let token = g.sign_in(SCOPE_DRIVE_READONLY).await;
    {
        let mut state = g.drive.state.lock().unwrap();
        state.user_rate_limit_next = 1;
        state.rate_limit_next = 1;
    }
    let (status, body) = g.get(&token, "files", &[]).await;
    assert_error(status, &body, 403, "userRateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    let (status, body) = g.get(&token, "files", &[]).await;
    assert_error(status, &body, 429, "rateLimitExceeded");
    let (status, _) = g.get(&token, "files", &[("q", "trashed = false")]).await;
    assert_eq!(status, 200);

    assert_eq!(
        g.drive.now().calls,
        [
            "POST /token",
            "GET /drive/v3/files",
            "GET /drive/v3/files",
            "GET /drive/v3/files?q=trashed+%3D+false",
        ]
    );
}
