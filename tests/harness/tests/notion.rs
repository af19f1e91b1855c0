//! The Notion contract server over real HTTP: what Deepwork's Notion watcher relies on
//! (the bot user, search, comments with mentions, paging, posting) and how it fails.

use deepwork_harness::notion::{BOB, BOT, ME, NOTION_VERSION, NotionContract, TOKEN, WORKSPACE};
use serde_json::{Value, json};
use std::time::Duration;

/// A client with the integration's token and the contract's Notion-Version.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(notion: &NotionContract) -> Api {
        Api {
            base: notion.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.json().await.expect("json body"))
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .bearer_auth(TOKEN)
            .header("Notion-Version", NOTION_VERSION)
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let request = self.authed(self.http.get(format!("{}{path}", self.base)).query(query));
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let request = self.authed(self.http.post(format!("{}{path}", self.base)).json(&body));
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    async fn search(&self, body: Value) -> Value {
        let (status, list) = self.post("/v1/search", body).await;
        assert_eq!(status, 200, "{list}");
        list
    }

    async fn comments(&self, page: &str) -> Vec<Value> {
        let (status, list) = self.get("/v1/comments", &[("block_id", page)]).await;
        assert_eq!(status, 200, "{list}");
        list["results"].as_array().expect("results").clone()
    }
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["object"], "error", "{body}");
    assert_eq!(body["status"], want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn titles(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|p| {
            p["properties"]["title"]["title"][0]["plain_text"]
                .as_str()
                .expect("title")
                .to_owned()
        })
        .collect()
}

fn plain(comment: &Value) -> String {
    comment["rich_text"]
        .as_array()
        .expect("rich text")
        .iter()
        .map(|t| t["plain_text"].as_str().expect("plain_text"))
        .collect()
}

#[tokio::test]
async fn needs_version_and_token_and_knows_its_bot() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);
    let url = format!("{}/v1/users/me", notion.base);

    let (status, _, body) = api.send(api.http.get(&url).bearer_auth(TOKEN)).await;
    assert_error(status, &body, 400, "missing_version");

    let request = api
        .http
        .get(&url)
        .bearer_auth("ntn_wrong")
        .header("Notion-Version", NOTION_VERSION);
    let (status, _, body) = api.send(request).await;
    assert_error(status, &body, 401, "unauthorized");

    let (status, me) = api.get("/v1/users/me", &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["object"], "user");
    assert_eq!(me["id"], BOT);
    assert_eq!(me["type"], "bot");
    assert_eq!(me["bot"]["owner"]["type"], "workspace");
    assert_eq!(me["bot"]["workspace_name"], WORKSPACE);

    notion.state.lock().unwrap().public_integration = true;
    let (_, me) = api.get("/v1/users/me", &[]).await;
    assert_eq!(me["bot"]["owner"]["type"], "user");
    assert_eq!(me["bot"]["owner"]["user"]["id"], ME);

    notion.state.lock().unwrap().revoke();
    let (status, body) = api.get("/v1/users/me", &[]).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn users_show_email_only_with_that_capability() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);

    let (status, alice) = api.get(&format!("/v1/users/{ME}"), &[]).await;
    assert_eq!(status, 200, "{alice}");
    assert_eq!(alice["type"], "person");
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["person"]["email"], "alice@example.com");
    assert!(alice.get("avatar_url").is_some());

    notion
        .state
        .lock()
        .unwrap()
        .capabilities
        .retain(|c| c != "read_user_emails");
    let (_, bob) = api
        .get(&format!("/v1/users/{}", BOB.replace('-', "")), &[])
        .await;
    assert_eq!(bob["id"], BOB);
    assert!(bob["person"].get("email").is_none(), "{bob}");

    let (status, body) = api
        .get("/v1/users/00000000-0000-4000-8000-00000000dead", &[])
        .await;
    assert_error(status, &body, 404, "object_not_found");

    notion
        .state
        .lock()
        .unwrap()
        .capabilities
        .retain(|c| c != "read_user_information");
    let (status, body) = api.get(&format!("/v1/users/{ME}"), &[]).await;
    assert_error(status, &body, 403, "restricted_resource");
}

#[tokio::test]
async fn search_finds_shared_pages_sorted_and_paged() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);
    let (roadmap, notes, _secret, retro) = {
        let mut state = notion.state.lock().unwrap();
        let roadmap = state.create_page("Q3 Roadmap", true);
        let notes = state.create_page("Meeting notes", true);
        let secret = state.create_page("Salaries", false);
        let retro = state.create_page("Retro: Q2", true);
        state.advance(Duration::from_secs(120));
        state.edit_page(&roadmap);
        (roadmap, notes, secret, retro)
    };

    let list = api.search(json!({})).await;
    assert_eq!(list["object"], "list");
    assert_eq!(list["type"], "page_or_database");
    assert_eq!(titles(&list), ["Q3 Roadmap", "Retro: Q2", "Meeting notes"]);

    let list = api
        .search(json!({ "sort": { "direction": "ascending", "timestamp": "last_edited_time" } }))
        .await;
    assert_eq!(titles(&list), ["Meeting notes", "Retro: Q2", "Q3 Roadmap"]);

    let list = api.search(json!({ "query": "q3" })).await;
    assert_eq!(titles(&list), ["Q3 Roadmap"]);
    let list = api
        .search(json!({ "filter": { "property": "object", "value": "database" } }))
        .await;
    assert_eq!(list["results"], json!([]));

    let first = api
        .search(json!({ "filter": { "property": "object", "value": "page" }, "page_size": 2 }))
        .await;
    assert_eq!(titles(&first), ["Q3 Roadmap", "Retro: Q2"]);
    assert_eq!(first["has_more"], true);
    assert_eq!(first["next_cursor"], notes);
    let rest = api
        .search(json!({ "page_size": 2, "start_cursor": first["next_cursor"] }))
        .await;
    assert_eq!(titles(&rest), ["Meeting notes"]);
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["next_cursor"], Value::Null);

    let page = &api.search(json!({ "query": "Retro" })).await["results"][0];
    assert_eq!(page["object"], "page");
    assert_eq!(page["id"], retro);
    assert_eq!(
        page["url"],
        format!("https://www.notion.so/Retro-Q2-{}", retro.replace('-', ""))
    );
    assert_eq!(page["properties"]["title"]["type"], "title");
    assert_eq!(page["created_by"], json!({ "object": "user", "id": ME }));
    assert_eq!(page["in_trash"], false);
    let edited = page["last_edited_time"].as_str().expect("time");
    assert!(
        edited.ends_with(":00.000Z"),
        "rounded to the minute: {edited}"
    );
    let edited: jiff::Timestamp = edited.parse().expect("RFC 3339");
    let roadmap_edited: jiff::Timestamp =
        api.search(json!({ "query": "Roadmap" })).await["results"][0]["last_edited_time"]
            .as_str()
            .expect("time")
            .parse()
            .expect("RFC 3339");
    assert!(roadmap_edited > edited);
    assert_eq!(
        roadmap,
        api.search(json!({ "query": "Roadmap" })).await["results"][0]["id"]
    );

    let (status, body) = api
        .post(
            "/v1/search",
            json!({ "sort": { "direction": "descending", "timestamp": "created_time" } }),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api.post("/v1/search", json!({ "page_size": 101 })).await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api
        .post(
            "/v1/search",
            json!({ "filter": { "property": "title", "value": "page" } }),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
}

#[tokio::test]
async fn comments_list_mentions_and_leave_the_page_alone() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);
    let (page, secret, first, thread) = {
        let mut state = notion.state.lock().unwrap();
        let page = state.create_page("Launch plan", true);
        let secret = state.create_page("Private", false);
        let first = state.comment(&page, BOB, "can you check the dates?", &[ME], None);
        let thread = state.comments.last().unwrap().discussion_id.clone();
        state.comment(&page, ME, "on it", &[], Some(&thread));
        state.comment(&page, BOB, "unrelated nit", &[], None);
        state.comment(&secret, BOB, "hidden", &[ME], None);
        (page, secret, first, thread)
    };
    let edited_before = api.search(json!({})).await["results"][0]["last_edited_time"].clone();

    let comments = api.comments(&page).await;
    assert_eq!(comments.len(), 3);
    let mention = &comments[0];
    assert_eq!(mention["object"], "comment");
    assert_eq!(mention["id"], first);
    assert_eq!(
        mention["parent"],
        json!({ "type": "page_id", "page_id": page })
    );
    assert_eq!(mention["discussion_id"], thread);
    assert_eq!(
        mention["created_by"],
        json!({ "object": "user", "id": BOB })
    );
    assert_eq!(mention["rich_text"][0]["type"], "mention");
    assert_eq!(
        mention["rich_text"][0]["mention"],
        json!({ "type": "user", "user": { "object": "user", "id": ME } })
    );
    assert_eq!(mention["rich_text"][0]["plain_text"], "@Alice");
    assert_eq!(mention["rich_text"][1]["type"], "text");
    assert_eq!(mention["rich_text"][1]["href"], Value::Null);
    assert_eq!(plain(mention), "@Alice can you check the dates?");
    assert!(
        mention["created_time"]
            .as_str()
            .unwrap()
            .ends_with(":00.000Z")
    );
    assert_eq!(comments[1]["discussion_id"], thread);
    assert_eq!(plain(&comments[1]), "on it");
    assert_ne!(comments[2]["discussion_id"], thread);

    // The dashless form of an id works too, as in Notion URLs.
    assert_eq!(api.comments(&page.replace('-', "")).await.len(), 3);

    let (status, first_page) = api
        .get("/v1/comments", &[("block_id", &page), ("page_size", "2")])
        .await;
    assert_eq!(status, 200, "{first_page}");
    assert_eq!(first_page["type"], "comment");
    assert_eq!(first_page["results"].as_array().unwrap().len(), 2);
    assert_eq!(first_page["has_more"], true);
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = api
        .get(
            "/v1/comments",
            &[("block_id", &page), ("start_cursor", &cursor)],
        )
        .await;
    assert_eq!(plain(&rest["results"][0]), "unrelated nit");
    assert_eq!(rest["has_more"], false);

    let (status, body) = api.get("/v1/comments", &[("block_id", &secret)]).await;
    assert_error(status, &body, 404, "object_not_found");
    let (status, body) = api.get("/v1/comments", &[]).await;
    assert_error(status, &body, 400, "validation_error");

    // Comments do not edit the page.
    let edited_after = api.search(json!({})).await["results"][0]["last_edited_time"].clone();
    assert_eq!(edited_before, edited_after);

    notion.state.lock().unwrap().resolve(&thread);
    let comments = api.comments(&page).await;
    assert_eq!(comments.len(), 1);
    assert_eq!(plain(&comments[0]), "unrelated nit");

    notion.state.lock().unwrap().share(&secret);
    assert_eq!(plain(&api.comments(&secret).await[0]), "@Alice hidden");

    notion
        .state
        .lock()
        .unwrap()
        .capabilities
        .retain(|c| c != "read_comments");
    let (status, body) = api.get("/v1/comments", &[("block_id", &page)]).await;
    assert_error(status, &body, 403, "restricted_resource");
}

#[tokio::test]
async fn the_bot_comments_on_pages_and_in_discussions() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);
    let (page, secret, thread) = {
        let mut state = notion.state.lock().unwrap();
        let page = state.create_page("Launch plan", true);
        let secret = state.create_page("Private", false);
        state.comment(&page, BOB, "ping", &[ME], None);
        let thread = state.comments[0].discussion_id.clone();
        (page, secret, thread)
    };

    let (status, created) = api
        .post(
            "/v1/comments",
            json!({ "parent": { "page_id": page }, "rich_text": [
                { "text": { "content": "Alice is focusing until 15:00 " } },
                { "type": "mention", "mention": { "user": { "id": BOB } } },
                { "text": { "content": "details", "link": { "url": "https://example.com/focus" } } },
            ] }),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["object"], "comment");
    assert_eq!(created["created_by"]["id"], BOT);
    assert_eq!(created["parent"]["page_id"], page);
    assert_ne!(created["discussion_id"], thread);
    assert_eq!(plain(&created), "Alice is focusing until 15:00 @Bobdetails");
    assert_eq!(created["rich_text"][2]["href"], "https://example.com/focus");
    assert_eq!(created["rich_text"][0]["annotations"]["bold"], false);

    let (status, reply) = api
        .post(
            "/v1/comments",
            json!({ "discussion_id": thread, "rich_text": [{ "text": { "content": "Seen, back at 15:00" } }] }),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["discussion_id"], thread);

    let comments = api.comments(&page).await;
    assert_eq!(comments.len(), 3);
    assert_eq!(comments[1]["id"], created["id"]);
    assert_eq!(comments[2]["id"], reply["id"]);

    let (status, body) = api
        .post(
            "/v1/comments",
            json!({ "parent": { "page_id": page }, "discussion_id": thread, "rich_text": [{ "text": { "content": "x" } }] }),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api
        .post(
            "/v1/comments",
            json!({ "parent": { "page_id": page }, "rich_text": [] }),
        )
        .await;
    assert_error(status, &body, 400, "validation_error");
    let (status, body) = api
        .post(
            "/v1/comments",
            json!({ "parent": { "page_id": secret }, "rich_text": [{ "text": { "content": "x" } }] }),
        )
        .await;
    assert_error(status, &body, 404, "object_not_found");
    let (status, body) = api
        .post(
            "/v1/comments",
            json!({ "discussion_id": "00000000-0000-4000-8000-00000000dead", "rich_text": [{ "text": { "content": "x" } }] }),
        )
        .await;
    assert_error(status, &body, 404, "object_not_found");

    notion
        .state
        .lock()
        .unwrap()
        .capabilities
        .retain(|c| c != "insert_comments");
    let (status, body) = api
        .post(
            "/v1/comments",
            json!({ "parent": { "page_id": page }, "rich_text": [{ "text": { "content": "x" } }] }),
        )
        .await;
    assert_error(status, &body, 403, "restricted_resource");
}

#[tokio::test]
async fn rate_limits_with_retry_after_and_logs_calls() {
    let notion = NotionContract::start().await;
    let api = Api::new(&notion);
    let page = notion.state.lock().unwrap().create_page("Plan", true);
    notion.state.lock().unwrap().rate_limit_next = 1;

    let request = api.authed(
        api.http
            .post(format!("{}/v1/search", notion.base))
            .json(&json!({})),
    );
    let (status, headers, body) = api.send(request).await;
    assert_error(status, &body, 429, "rate_limited");
    assert_eq!(headers["retry-after"], "1");
    api.search(json!({})).await;
    api.comments(&page).await;

    let calls = notion.now().calls;
    assert_eq!(
        calls,
        [
            "POST /v1/search".to_owned(),
            "POST /v1/search".to_owned(),
            format!("GET /v1/comments?block_id={page}"),
        ]
    );
}
