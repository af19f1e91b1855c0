//! The Confluence Cloud contract server over real HTTP: the user, CQL content search
//! (parsing, precedence, `now("…")` and dates in the user's zone, errors, expansions,
//! cursor paging), page comments and replies, and how requests fail (401, 429).

mod common;

use common::{at, send};
use deepwork_harness::confluence::{API_TOKEN, BOB, ConfluenceContract, EMAIL, ME};
use serde_json::{Value, json};

/// A client signed in with the user's API token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(confluence: &ConfluenceContract) -> Api {
        Api {
            base: confluence.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// GETs `url`, absolute or relative to the site.
    async fn get(&self, url: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let request = self
            .http
            .get(url)
            .basic_auth(EMAIL, Some(API_TOKEN))
            .query(query);
        let (status, _, body) = send(request).await;
        (status, body)
    }

    async fn search(&self, cql: &str, expand: &str) -> (u16, Value) {
        let mut query = vec![("cql", cql)];
        if !expand.is_empty() {
            query.push(("expand", expand));
        }
        self.get("/wiki/rest/api/content/search", &query).await
    }

    /// The titles a search finds, in order; the search must succeed.
    async fn titles(&self, cql: &str) -> Vec<String> {
        let (status, body) = self.search(cql, "").await;
        assert_eq!(status, 200, "{cql}: {body}");
        titles(&body)
    }
}

fn titles(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|c| c["title"].as_str().expect("title").to_owned())
        .collect()
}

#[tokio::test]
async fn current_user_is_the_user() {
    let confluence = ConfluenceContract::start().await;
    let (status, me) = Api::new(&confluence)
        .get("/wiki/rest/api/user/current", &[])
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["type"], "known");
    assert_eq!(me["accountId"], ME);
    assert_eq!(me["displayName"], "Alice");
    assert_eq!(me["timeZone"], "Europe/Berlin");
}

#[tokio::test]
async fn wrong_or_revoked_credentials_are_refused_with_401() {
    let confluence = ConfluenceContract::start().await;
    let url = format!("{}/wiki/rest/api/user/current", confluence.base);
    let http = reqwest::Client::new();
    let refused = http
        .get(&url)
        .basic_auth(EMAIL, Some("nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        http.get(&url)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16(),
        401
    );
    let api = Api::new(&confluence);
    assert_eq!(api.get("/wiki/rest/api/user/current", &[]).await.0, 200);
    confluence.state.lock().expect("state").revoke();
    assert_eq!(api.search("type = page", "").await.0, 401);
}

#[tokio::test]
async fn rate_limit_is_429_with_retry_after_then_lifts() {
    let confluence = ConfluenceContract::start().await;
    {
        let mut state = confluence.state.lock().expect("state");
        state.rate_limit_next = 2;
        state.retry_after = 3;
    }
    let api = Api::new(&confluence);
    for _ in 0..2 {
        let request = api
            .http
            .get(format!("{}/wiki/rest/api/user/current", confluence.base))
            .basic_auth(EMAIL, Some(API_TOKEN));
        let (status, headers, _) = send(request).await;
        assert_eq!(status, 429);
        assert_eq!(headers["retry-after"], "3");
        assert!(headers.contains_key("x-ratelimit-reset"));
    }
    assert_eq!(api.get("/wiki/rest/api/user/current", &[]).await.0, 200);
    assert_eq!(confluence.now().calls.len(), 3);
}

#[tokio::test]
async fn comments_mentioning_the_user_are_found_with_their_page() {
    let confluence = ConfluenceContract::start().await;
    let page = {
        let mut state = confluence.state.lock().expect("state");
        let page = state.create_page("DW", "Release plan", BOB);
        state.comment(&page, BOB, "can you check the dates?", &[ME], None);
        state.comment(&page, BOB, "no mention here", &[], None);
        page
    };
    let api = Api::new(&confluence);
    let (status, body) = api
        .search(
            "type = comment AND mention = currentUser()",
            "container,history,body.storage",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["size"], 1);
    let comment = &body["results"][0];
    assert_eq!(comment["type"], "comment");
    assert_eq!(comment["title"], "Re: Release plan");
    assert_eq!(comment["extensions"]["location"], "footer");
    assert_eq!(comment["container"]["id"], page.as_str());
    assert_eq!(comment["container"]["type"], "page");
    assert_eq!(comment["history"]["createdBy"]["accountId"], BOB);
    let storage = comment["body"]["storage"]["value"]
        .as_str()
        .expect("storage");
    assert!(
        storage.contains(&format!("<ri:user ri:account-id=\"{ME}\" />")),
        "{storage}"
    );
    assert_eq!(comment["body"]["storage"]["representation"], "storage");
    let webui = comment["_links"]["webui"].as_str().expect("webui");
    assert!(
        webui.contains(&format!("/pages/{page}/")) && webui.contains("focusedCommentId="),
        "{webui}"
    );

    // Nothing is expanded unless asked for; `body` alone carries no representation.
    let (_, bare) = api
        .search("type = comment AND mention = currentUser()", "body")
        .await;
    let bare = &bare["results"][0];
    assert!(bare.get("history").is_none() && bare.get("container").is_none());
    assert!(bare["body"].get("storage").is_none());
}

#[tokio::test]
async fn pages_mentioning_the_user_by_others_and_watched_ones() {
    let confluence = ConfluenceContract::start().await;
    {
        let mut state = confluence.state.lock().expect("state");
        let mine = state.create_page("DW", "My notes", ME);
        state.mention_in_page(&mine, ME, ME);
        let bobs = state.create_page("DW", "Bob's page", BOB);
        state.mention_in_page(&bobs, BOB, ME);
        let watched = state.create_page("OPS", "Runbook", BOB);
        state.watch(&watched, ME);
        state.create_blogpost("OPS", "Weekly update", ME);
        state.comment(&watched, BOB, "edited the runbook", &[], None);
    }
    let api = Api::new(&confluence);
    assert_eq!(
        api.titles("mention = currentUser() and creator != currentUser()")
            .await,
        ["Bob's page"]
    );
    assert_eq!(
        api.titles("type in (page, blogpost) AND watcher = currentUser()")
            .await,
        ["My notes", "Runbook", "Weekly update"]
    );
    // A comment has no watchers of its own.
    assert!(
        api.titles("type = comment AND watcher = currentUser()")
            .await
            .is_empty()
    );
    assert_eq!(
        api.titles(&format!("contributor = \"{BOB}\" AND space = DW"))
            .await,
        ["Bob's page"]
    );
    assert_eq!(
        api.titles("TYPE = page and (space = OPS or creator = currentUser())")
            .await,
        ["My notes", "Runbook"]
    );
    assert_eq!(
        api.titles("space = OPS or space = DW and creator = currentUser()")
            .await,
        ["My notes", "Runbook", "Weekly update", "Re: Runbook"]
    );
    assert_eq!(
        api.titles("type = page AND NOT space = DW").await,
        ["Runbook"]
    );
    assert_eq!(
        api.titles("type = page order by title desc").await,
        ["Runbook", "My notes", "Bob's page"]
    );
}

#[tokio::test]
async fn now_increments_count_back_from_the_sites_clock() {
    let confluence = ConfluenceContract::start().await;
    {
        let mut state = confluence.state.lock().expect("state");
        state.clock = Some(at("2026-11-29T08:00:00Z"));
        let page = state.create_page("DW", "Old page", BOB);
        state.clock = Some(at("2026-11-29T09:50:00Z"));
        state.comment(&page, BOB, "fresh", &[ME], None);
        state.clock = Some(at("2026-11-29T10:00:00Z"));
    }
    let api = Api::new(&confluence);
    assert_eq!(
        api.titles("lastmodified > now(\"-15m\")").await,
        ["Re: Old page"]
    );
    assert_eq!(
        api.titles("created >= now('-3h') order by created desc")
            .await,
        ["Re: Old page", "Old page"]
    );
    assert_eq!(
        api.titles("lastmodified < now(\"-1h\")").await,
        ["Old page"]
    );
    assert_eq!(
        api.titles("lastmodified <= now()").await,
        ["Old page", "Re: Old page"]
    );
    // `M` is months, `m` minutes.
    assert!(api.titles("lastmodified < now(\"-1M\")").await.is_empty());

    // Editing the page moves its lastmodified.
    {
        let mut state = confluence.state.lock().expect("state");
        let page = state.content[0].id.clone();
        state.mention_in_page(&page, BOB, ME);
    }
    assert_eq!(
        api.titles("lastmodified >= now(\"-15m\") order by lastmodified asc")
            .await,
        ["Re: Old page", "Old page"]
    );
}

#[tokio::test]
async fn dates_are_read_in_the_users_time_zone() {
    let confluence = ConfluenceContract::start().await;
    {
        let mut state = confluence.state.lock().expect("state");
        state.clock = Some(at("2026-11-29T08:10:00Z"));
        state.create_page("DW", "Page at 09:10 in Berlin", BOB);
    }
    let api = Api::new(&confluence);
    let (_, body) = api.search("type = page", "version").await;
    assert_eq!(
        body["results"][0]["version"]["when"],
        "2026-11-29T08:10:00.000Z"
    );
    assert_eq!(body["results"][0]["version"]["number"], 1);
    assert_eq!(
        api.titles("lastmodified >= \"2026/11/29 08:30\"")
            .await
            .len(),
        1
    );
    assert!(
        api.titles("lastmodified >= \"2026-11-29 09:30\"")
            .await
            .is_empty()
    );
    assert_eq!(api.titles("created > 2026-11-29").await.len(), 1);
    confluence.state.lock().expect("state").time_zone = "UTC".into();
    assert!(
        api.titles("lastmodified >= \"2026/11/29 08:30\"")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_cql_is_400_could_not_parse() {
    let confluence = ConfluenceContract::start().await;
    let api = Api::new(&confluence);
    for cql in [
        "type = ",
        "type page",
        "type = page and",
        "(type = page",
        "mention = currentUser() creator = currentUser()",
        "title = \"unfinished",
        "bogus = 1",
        "type = banana",
        "lastmodified > now(\"-15x\")",
        "lastmodified > \"yesterday\"",
        "creator > currentUser()",
        "order by created",
    ] {
        let (status, body) = api.search(cql, "").await;
        assert_eq!(status, 400, "{cql}: {body}");
        assert_eq!(body["statusCode"], 400);
        assert_eq!(
            body["message"],
            format!("Could not parse cql : {cql}"),
            "{cql}"
        );
        assert!(
            body["data"]["errors"][0]["message"]["translation"].is_string(),
            "{body}"
        );
    }
    let (status, body) = api.get("/wiki/rest/api/content/search", &[]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "CQL query parameter is required but was empty"
    );
}

#[tokio::test]
async fn search_pages_follow_the_next_link_under_the_system_limits() {
    let confluence = ConfluenceContract::start().await;
    {
        let mut state = confluence.state.lock().expect("state");
        for n in 0..60 {
            state.create_page("DW", &format!("Page {n:02}"), BOB);
        }
    }
    let api = Api::new(&confluence);
    let (_, first) = api
        .get(
            "/wiki/rest/api/content/search",
            &[
                ("cql", "type = page"),
                ("limit", "100"),
                ("expand", "body.storage"),
            ],
        )
        .await;
    assert_eq!(first["size"], 50, "body expansions are capped at 50");
    assert_eq!(first["limit"], 50);
    let next = first["_links"]["next"].as_str().expect("next");
    assert!(
        next.starts_with("/rest/api/content/search?") && next.contains("cursor="),
        "{next}"
    );
    let base = first["_links"]["base"].as_str().expect("base");
    assert!(base.ends_with("/wiki"));
    let (status, second) = api.get(&format!("{base}{next}"), &[]).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["size"], 10);
    assert_eq!(second["start"], 50);
    assert!(second["results"][0]["body"]["storage"]["value"].is_string());
    assert!(second["_links"].get("next").is_none());
    let mut all = titles(&first);
    all.extend(titles(&second));
    assert_eq!(all.len(), 60);
    assert_eq!(all[59], "Page 59");

    let (_, small) = api
        .get("/wiki/rest/api/content/search", &[("cql", "type = page")])
        .await;
    assert_eq!(small["limit"], 25, "the default page");
}

#[tokio::test]
async fn child_comments_and_replies() {
    let confluence = ConfluenceContract::start().await;
    let (page, question) = {
        let mut state = confluence.state.lock().expect("state");
        let page = state.create_page("DW", "Design", BOB);
        let question = state.comment(&page, BOB, "ready for review?", &[ME], None);
        state.comment(&page, BOB, "also this", &[], None);
        (page, question)
    };
    let api = Api::new(&confluence);
    let reply = json!({
        "type": "comment",
        "container": { "id": page, "type": "page" },
        "ancestors": [{ "id": question }],
        "body": { "storage": { "value": format!("<p><ac:link><ri:user ri:account-id=\"{BOB}\" /></ac:link> after my focus block</p>"), "representation": "storage" } },
    });
    let response = api
        .http
        .post(format!("{}/wiki/rest/api/content", confluence.base))
        .basic_auth(EMAIL, Some(API_TOKEN))
        .json(&reply);
    let (status, _, created) = send(response).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["type"], "comment");
    assert_eq!(created["history"]["createdBy"]["accountId"], ME);
    assert_eq!(created["container"]["id"], page.as_str());
    assert_eq!(created["ancestors"][0]["id"], question.as_str());
    assert_eq!(created["title"], "Re: Design");

    let path = format!("/wiki/rest/api/content/{page}/child/comment");
    let (_, top) = api.get(&path, &[("expand", "body.view")]).await;
    assert_eq!(top["size"], 2, "{top}");
    let view = top["results"][0]["body"]["view"]["value"]
        .as_str()
        .expect("view");
    assert!(
        view.contains(&format!("data-account-id=\"{ME}\"")) && view.contains(">Alice</a>"),
        "{view}"
    );
    let (_, all) = api.get(&path, &[("depth", "all"), ("limit", "2")]).await;
    assert_eq!(all["size"], 2);
    let next = all["_links"]["next"].as_str().expect("next");
    let (_, rest) = api
        .get(&format!("{}/wiki{next}", confluence.base), &[])
        .await;
    assert_eq!(rest["size"], 1);
    assert_eq!(rest["results"][0]["id"], created["id"]);

    // The user's own reply mentions Bob.
    let (_, mentions_bob) = api
        .search(
            &format!("mention = \"{BOB}\" and creator = currentUser()"),
            "",
        )
        .await;
    assert_eq!(mentions_bob["results"][0]["id"], created["id"]);

    let (status, missing) = api
        .get("/wiki/rest/api/content/999/child/comment", &[])
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["statusCode"], 404);
    let bad_parent = json!({ "type": "comment", "container": { "id": page }, "ancestors": [{ "id": page }], "body": { "storage": { "value": "<p>x</p>", "representation": "storage" } } });
    let response = api
        .http
        .post(format!("{}/wiki/rest/api/content", confluence.base))
        .basic_auth(EMAIL, Some(API_TOKEN))
        .json(&bad_parent);
    assert_eq!(send(response).await.0, 400);
}

#[tokio::test]
async fn every_request_is_logged_with_its_query() {
    let confluence = ConfluenceContract::start().await;
    let api = Api::new(&confluence);
    api.search("type = page", "version").await;
    api.get("/wiki/rest/api/space", &[]).await;
    assert_eq!(
        confluence.now().calls,
        [
            "GET /wiki/rest/api/content/search?cql=type+%3D+page&expand=version",
            "GET /wiki/rest/api/space",
        ]
    );
}
