//! The GitHub contract server over real HTTP: what Deepwork's GitHub source relies on
//! (polling notifications cheaply, reading the pull requests, comments and reviews
//! behind them, signing in with the device flow) and how it fails.

use deepwork_harness::github::{BOB, CLIENT_ID, GitHubContract, ME, TOKEN, USER_CODE};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;

const REPO: &str = "acme/focus";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A client signed in with a token.
struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// Status, headers and the JSON body (`Null` when there is none).
type Answer = (u16, HeaderMap, Value);

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .expect("text")
}

impl Api {
    fn new(github: &GitHubContract) -> Api {
        Api {
            base: github.base.clone(),
            token: TOKEN.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        answer(self.request(reqwest::Method::GET, path).query(query)).await
    }

    /// A `GET` expecting 200.
    async fn ok(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// `GET /notifications`, expecting 200.
    async fn notifications(&self, query: &[(&str, &str)]) -> (HeaderMap, Vec<Value>) {
        let (status, headers, body) = self.get("/notifications", query).await;
        assert_eq!(status, 200, "{body}");
        (headers, body.as_array().expect("a list").clone())
    }

    async fn conditional(&self, last_modified: &str) -> Answer {
        answer(
            self.request(reqwest::Method::GET, "/notifications")
                .header("If-Modified-Since", last_modified),
        )
        .await
    }
}

fn reasons(threads: &[Value]) -> Vec<&str> {
    let mut reasons: Vec<&str> = threads
        .iter()
        .map(|t| t["reason"].as_str().expect("reason"))
        .collect();
    reasons.sort_unstable();
    reasons
}

fn titles(threads: &[Value]) -> Vec<&str> {
    threads
        .iter()
        .map(|t| t["subject"]["title"].as_str().expect("title"))
        .collect()
}

#[tokio::test]
async fn tokens_are_checked() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);

    let (status, headers, user) = api.get("/user", &[]).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["login"], ME);
    assert!(user["id"].is_u64(), "{user}");
    assert_eq!(user["name"], "Alice");
    assert_eq!(user["html_url"], "https://github.com/alice");
    assert_eq!(header(&headers, "x-ratelimit-resource"), "core");

    let old_scheme = reqwest::Client::new()
        .get(format!("{}/user", github.base))
        .header("Authorization", format!("token {TOKEN}"));
    assert_eq!(answer(old_scheme).await.0, 200);

    let bad = serde_json::json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" });
    let anonymous = reqwest::Client::new().get(format!("{}/notifications", github.base));
    let (status, headers, body) = answer(anonymous).await;
    assert_eq!((status, &body), (401, &bad));
    header(&headers, "x-ratelimit-limit");
    let wrong = Api {
        token: "ghp_wrong".into(),
        ..Api::new(&github)
    };
    let (status, _, body) = wrong.get("/user", &[]).await;
    assert_eq!((status, &body), (401, &bad));

    github.state.lock().expect("state").revoke();
    let (status, _, body) = api.get("/user", &[]).await;
    assert_eq!((status, &body), (401, &bad));
    assert_eq!(
        github.now().calls,
        [
            "GET /user",
            "GET /user",
            "GET /notifications",
            "GET /user",
            "GET /user"
        ]
    );
}

#[tokio::test]
async fn notifications_are_threads_with_api_urls() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    let id = github.state.lock().expect("state").notify(
        REPO,
        "review_requested",
        "PullRequest",
        "Add a focus timer",
        12,
    );

    let (_, threads) = api.notifications(&[]).await;
    assert_eq!(threads.len(), 1);
    let thread = &threads[0];
    let base = &github.base;
    assert_eq!(thread["id"], id.as_str());
    assert_eq!(thread["unread"], true);
    assert_eq!(thread["reason"], "review_requested");
    assert_eq!(thread["last_read_at"], Value::Null);
    let updated = thread["updated_at"].as_str().expect("updated_at");
    assert_eq!(updated.len(), "2026-11-29T09:12:00Z".len(), "{updated}");
    updated.parse::<jiff::Timestamp>().expect("RFC 3339");
    let pull_url = format!("{base}/repos/{REPO}/pulls/12");
    assert_eq!(thread["subject"]["title"], "Add a focus timer");
    assert_eq!(thread["subject"]["type"], "PullRequest");
    assert_eq!(thread["subject"]["url"], pull_url.as_str());
    assert_eq!(thread["subject"]["latest_comment_url"], pull_url.as_str());
    assert_eq!(thread["repository"]["full_name"], REPO);
    assert_eq!(thread["repository"]["name"], "focus");
    assert_eq!(thread["repository"]["private"], false);
    assert_eq!(thread["repository"]["owner"]["login"], "acme");
    assert_eq!(
        thread["repository"]["html_url"],
        "https://github.com/acme/focus"
    );
    let thread_url = format!("{base}/notifications/threads/{id}");
    assert_eq!(thread["url"], thread_url.as_str());
    assert_eq!(
        thread["subscription_url"],
        format!("{thread_url}/subscription").as_str()
    );

    let (status, _, one) = api.get(&format!("/notifications/threads/{id}"), &[]).await;
    assert_eq!((status, &one), (200, thread));
    let (status, _, body) = api.get("/notifications/threads/1", &[]).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));

    let (status, _, pull) = api.get(&format!("/repos/{REPO}/pulls/12"), &[]).await;
    assert_eq!(status, 200, "{pull}");
    assert_eq!(pull["html_url"], "https://github.com/acme/focus/pull/12");
    assert_eq!(pull["title"], "Add a focus timer");
    assert_eq!(pull["user"]["login"], BOB);
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["requested_reviewers"][0]["login"], ME);
    let (status, _, issue) = api.get(&format!("/repos/{REPO}/issues/12"), &[]).await;
    assert_eq!(status, 200, "{issue}");
    assert_eq!(issue["pull_request"]["url"], pull_url.as_str());
    assert_eq!(
        api.get(&format!("/repos/{REPO}/pulls/13"), &[]).await.0,
        404
    );

    let check = github
        .state
        .lock()
        .expect("state")
        .ci_failed(REPO, "CI workflow run failed for main branch");
    let (status, _, suite) = api
        .get(&format!("/notifications/threads/{check}"), &[])
        .await;
    assert_eq!(status, 200, "{suite}");
    assert_eq!(suite["reason"], "ci_activity");
    assert_eq!(suite["subject"]["type"], "CheckSuite");
    assert_eq!(suite["subject"]["url"], Value::Null);
    assert_eq!(suite["subject"]["latest_comment_url"], Value::Null);
}

#[tokio::test]
async fn notifications_poll_with_last_modified() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    let first =
        github
            .state
            .lock()
            .expect("state")
            .notify(REPO, "mention", "Issue", "Timer drifts", 3);

    let (headers, _) = api.notifications(&[]).await;
    assert_eq!(header(&headers, "x-poll-interval"), "60");
    let last_modified = header(&headers, "last-modified").to_owned();
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");
    let used = header(&headers, "x-ratelimit-used").to_owned();

    let (status, headers, body) = api.conditional(&last_modified).await;
    assert_eq!((status, body), (304, Value::Null));
    assert_eq!(header(&headers, "x-poll-interval"), "60");
    // A 304 leaves the rate limit untouched.
    assert_eq!(header(&headers, "x-ratelimit-used"), used);

    // Reading is not a new notification.
    let patch = api.request(
        reqwest::Method::PATCH,
        &format!("/notifications/threads/{first}"),
    );
    let (status, _, body) = answer(patch).await;
    assert_eq!((status, body), (205, Value::Null));
    assert_eq!(api.conditional(&last_modified).await.0, 304);
    let (_, unread) = api.notifications(&[]).await;
    assert!(unread.is_empty(), "{unread:?}");
    let (_, all) = api.notifications(&[("all", "true")]).await;
    assert_eq!(all[0]["unread"], false);
    assert!(all[0]["last_read_at"].is_string(), "{}", all[0]);

    // A change within the same second still shows on the next conditional poll.
    github
        .state
        .lock()
        .expect("state")
        .comment(REPO, 3, BOB, "Still drifting here");
    let (status, headers, body) = api.conditional(&last_modified).await;
    assert_eq!(status, 200, "{body}");
    let newer = header(&headers, "last-modified").to_owned();
    let parse = |text: &str| {
        jiff::fmt::rfc2822::parse(text)
            .expect("HTTP date")
            .timestamp()
    };
    assert!(parse(&newer) > parse(&last_modified), "{newer}");
    assert_eq!(body[0]["unread"], true);
    assert_eq!(body[0]["reason"], "mention");
    assert_eq!(api.conditional(&newer).await.0, 304);

    github.state.lock().expect("state").poll_interval = "120".into();
    let (_, headers, _) = api.conditional(&newer).await;
    assert_eq!(header(&headers, "x-poll-interval"), "120");

    let now = github.now();
    assert_eq!(now.conditional_calls, 5);
    assert_eq!(now.not_modified, 4);
    assert_eq!(
        now.calls
            .iter()
            .filter(|c| c.starts_with("GET /notifications"))
            .count(),
        8
    );
    assert!(
        now.calls
            .contains(&"GET /notifications?all=true".to_owned())
    );
    assert!(
        now.calls
            .contains(&format!("PATCH /notifications/threads/{first}"))
    );
}

#[tokio::test]
async fn since_and_before_select_by_updated_at() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    for (number, title) in [(1, "One"), (2, "Two"), (3, "Three")] {
        github
            .state
            .lock()
            .expect("state")
            .notify(REPO, "assign", "Issue", title, number);
    }
    let (_, threads) = api.notifications(&[]).await;
    assert_eq!(titles(&threads), ["Three", "Two", "One"]);
    let stamp = |i: usize| threads[i]["updated_at"].as_str().expect("updated_at");

    let (_, after_one) = api.notifications(&[("since", stamp(2))]).await;
    assert_eq!(titles(&after_one), ["Three", "Two"]);
    let (_, before_three) = api.notifications(&[("before", stamp(0))]).await;
    assert_eq!(titles(&before_three), ["Two", "One"]);
    let (_, between) = api
        .notifications(&[("since", stamp(2)), ("before", stamp(0))])
        .await;
    assert_eq!(titles(&between), ["Two"]);
    let (status, _, body) = api.get("/notifications", &[("since", "yesterday")]).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn participating_keeps_threads_the_user_is_in() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    {
        let mut state = github.state.lock().expect("state");
        state.notify(REPO, "review_requested", "PullRequest", "Review me", 1);
        state.notify(REPO, "mention", "Issue", "Ping", 2);
        state.notify(REPO, "assign", "Issue", "Yours", 3);
        state.notify(REPO, "subscribed", "Issue", "Watching", 4);
        state.notify(REPO, "team_mention", "Issue", "Team ping", 5);
        state.notify(REPO, "subscribed", "Release", "v1.0", 6);
        state.ci_failed(REPO, "CI workflow run failed for main branch");
    }
    let (_, everything) = api.notifications(&[]).await;
    assert_eq!(everything.len(), 7);
    let (_, mine) = api.notifications(&[("participating", "true")]).await;
    assert_eq!(reasons(&mine), ["assign", "mention", "review_requested"]);
    let (_, also) = api.notifications(&[("participating", "false")]).await;
    assert_eq!(also.len(), 7);
}

#[tokio::test]
async fn notifications_page_with_link_headers() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    {
        let mut state = github.state.lock().expect("state");
        for number in 1..=55 {
            state.notify(
                REPO,
                "subscribed",
                "Issue",
                &format!("Issue {number}"),
                number,
            );
        }
    }
    let base = &github.base;

    let (headers, first) = api.notifications(&[]).await;
    assert_eq!(first.len(), 50);
    assert_eq!(first[0]["subject"]["title"], "Issue 55");
    assert_eq!(
        header(&headers, "link"),
        format!(
            "<{base}/notifications?page=2>; rel=\"next\", <{base}/notifications?page=2>; rel=\"last\""
        )
    );
    let (headers, second) = api.notifications(&[("page", "2")]).await;
    assert_eq!(
        titles(&second),
        ["Issue 5", "Issue 4", "Issue 3", "Issue 2", "Issue 1"]
    );
    assert_eq!(
        header(&headers, "link"),
        format!(
            "<{base}/notifications?page=1>; rel=\"prev\", <{base}/notifications?page=1>; rel=\"first\""
        )
    );

    let (headers, page) = api
        .notifications(&[("per_page", "20"), ("page", "2"), ("all", "true")])
        .await;
    assert_eq!(page.len(), 20);
    assert_eq!(page[0]["subject"]["title"], "Issue 35");
    let link = header(&headers, "link");
    for rel in [
        "per_page=20&all=true&page=1>; rel=\"prev\"",
        "per_page=20&all=true&page=3>; rel=\"next\"",
        "per_page=20&all=true&page=3>; rel=\"last\"",
        "per_page=20&all=true&page=1>; rel=\"first\"",
    ] {
        assert!(link.contains(rel), "{rel} not in {link}");
    }

    // per_page is at most 50 here.
    let (_, capped) = api.notifications(&[("per_page", "100")]).await;
    assert_eq!(capped.len(), 50);
    let (headers, few) = api
        .notifications(&[
            ("since", "2000-01-01T00:00:00Z"),
            ("per_page", "50"),
            ("page", "2"),
        ])
        .await;
    assert_eq!(few.len(), 5);
    assert!(header(&headers, "link").contains("since=2000-01-01T00%3A00%3A00Z"));
}

#[tokio::test]
async fn comments_and_reviews_behind_a_thread() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    let base = github.base.clone();
    let thread = github.state.lock().expect("state").notify(
        REPO,
        "author",
        "PullRequest",
        "Mute Slack while focusing",
        7,
    );
    let pull = api.ok(&format!("/repos/{REPO}/pulls/7")).await;
    assert_eq!(pull["user"]["login"], ME);

    let (first, second) = {
        let mut state = github.state.lock().expect("state");
        (
            state.comment(REPO, 7, BOB, "Looks good overall"),
            state.comment(REPO, 7, BOB, "One nit in the timer"),
        )
    };
    let one = api.ok(&format!("/notifications/threads/{thread}")).await;
    let latest = format!("{base}/repos/{REPO}/issues/comments/{second}");
    assert_eq!(one["subject"]["latest_comment_url"], latest.as_str());
    assert_eq!(one["reason"], "author");
    assert_eq!(one["unread"], true);

    let (status, _, comment) = api
        .get(&format!("/repos/{REPO}/issues/comments/{second}"), &[])
        .await;
    assert_eq!(status, 200, "{comment}");
    assert_eq!(comment["id"], second);
    assert_eq!(comment["body"], "One nit in the timer");
    assert_eq!(comment["user"]["login"], BOB);
    assert_eq!(
        comment["html_url"],
        format!("https://github.com/{REPO}/pull/7#issuecomment-{second}").as_str()
    );
    let created = comment["created_at"].as_str().expect("created_at");
    assert_eq!(comment["updated_at"], created);

    let path = format!("/repos/{REPO}/issues/7/comments");
    let (status, _, listed) = api.get(&path, &[]).await;
    assert_eq!(status, 200, "{listed}");
    let ids: Vec<&Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [first, second]);
    let first_comment = api
        .ok(&format!("/repos/{REPO}/issues/comments/{first}"))
        .await;
    let since = first_comment["updated_at"].as_str().expect("updated_at");
    let (_, _, newer) = api.get(&path, &[("since", since)]).await;
    assert_eq!(newer.as_array().expect("list").len(), 1);
    assert_eq!(newer[0]["id"], second);
    let (_, headers, paged) = api.get(&path, &[("per_page", "1")]).await;
    assert_eq!(paged.as_array().expect("list").len(), 1);
    assert!(header(&headers, "link").contains("rel=\"next\""));

    // The user's own comment is theirs: no notification.
    let before = github.now().threads[0].clone();
    let post = api
        .request(reqwest::Method::POST, &path)
        .json(&serde_json::json!({ "body": "Fixed, thanks" }));
    let (status, _, mine) = answer(post).await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["user"]["login"], ME);
    assert_eq!(mine["body"], "Fixed, thanks");
    assert_eq!(github.now().threads[0].updated_at, before.updated_at);
    let empty = api
        .request(reqwest::Method::POST, &path)
        .json(&serde_json::json!({}));
    assert_eq!(answer(empty).await.0, 422);
    let nowhere = api
        .request(
            reqwest::Method::POST,
            &format!("/repos/{REPO}/issues/99/comments"),
        )
        .json(&serde_json::json!({ "body": "?" }));
    assert_eq!(answer(nowhere).await.0, 404);

    {
        let mut state = github.state.lock().expect("state");
        state.review(REPO, 7, BOB, "CHANGES_REQUESTED");
        state.review(REPO, 7, "carol", "APPROVED");
    }
    let (status, _, reviews) = api
        .get(&format!("/repos/{REPO}/pulls/7/reviews"), &[])
        .await;
    assert_eq!(status, 200, "{reviews}");
    let states: Vec<(&Value, &Value)> = reviews
        .as_array()
        .expect("list")
        .iter()
        .map(|r| (&r["user"]["login"], &r["state"]))
        .collect();
    assert_eq!(
        states,
        [
            (&Value::from(BOB), &Value::from("CHANGES_REQUESTED")),
            (&Value::from("carol"), &Value::from("APPROVED"))
        ]
    );
    let review = &reviews[0];
    assert!(review["submitted_at"].is_string(), "{review}");
    assert!(
        review["html_url"].as_str().is_some_and(
            |u| u.starts_with("https://github.com/acme/focus/pull/7#pullrequestreview-")
        ),
        "{review}"
    );
    assert_eq!(review["body"], "");
    // After a review the latest activity is no comment: the URL falls back to the PR.
    let one = api.ok(&format!("/notifications/threads/{thread}")).await;
    assert_eq!(
        one["subject"]["latest_comment_url"],
        format!("{base}/repos/{REPO}/pulls/7").as_str()
    );
    assert_eq!(
        api.get(&format!("/repos/{REPO}/pulls/8/reviews"), &[])
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_mention_sticks_and_a_review_ends_a_request() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    let thread = {
        let mut state = github.state.lock().expect("state");
        let thread = state.notify(REPO, "review_requested", "PullRequest", "Review me", 4);
        let mention = state.mention(REPO, 4, BOB, "@alice can you look?");
        assert_eq!(
            state.notify(REPO, "review_requested", "PullRequest", "Review me", 4),
            thread
        );
        state.comment(REPO, 4, BOB, "Any news?");
        assert!(state.comments.iter().any(|c| c.id == mention));
        thread
    };
    let one = api.ok(&format!("/notifications/threads/{thread}")).await;
    assert_eq!(one["reason"], "mention");

    let pull = api.ok(&format!("/repos/{REPO}/pulls/4")).await;
    assert_eq!(pull["requested_reviewers"][0]["login"], ME);
    github
        .state
        .lock()
        .expect("state")
        .review(REPO, 4, ME, "APPROVED");
    let pull = api.ok(&format!("/repos/{REPO}/pulls/4")).await;
    assert_eq!(pull["requested_reviewers"], serde_json::json!([]));
}

#[tokio::test]
async fn secondary_rate_limits_refuse_then_clear() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    {
        let mut state = github.state.lock().expect("state");
        state.secondary_limit_next = 2;
        state.retry_after = 7;
    }
    for _ in 0..2 {
        let (status, headers, body) = api.get("/notifications", &[]).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(header(&headers, "retry-after"), "7");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("You have exceeded a secondary rate limit")),
            "{body}"
        );
        assert_eq!(body["status"], "403");
        assert_ne!(header(&headers, "x-ratelimit-remaining"), "0");
    }
    assert_eq!(api.get("/notifications", &[]).await.0, 200);

    {
        let mut state = github.state.lock().expect("state");
        state.secondary_limit_next = 1;
        state.secondary_status = 429;
    }
    let (status, headers, _) = api.get("/user", &[]).await;
    assert_eq!(status, 429);
    header(&headers, "retry-after");
    assert_eq!(api.get("/user", &[]).await.0, 200);
}

#[tokio::test]
async fn the_primary_rate_limit_refuses_until_it_resets() {
    let github = GitHubContract::start().await;
    let api = Api::new(&github);
    let now = jiff::Timestamp::now().as_second();

    let (_, headers, _) = api.get("/user", &[]).await;
    assert_eq!(header(&headers, "x-ratelimit-limit"), "5000");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "4999");
    assert_eq!(header(&headers, "x-ratelimit-used"), "1");
    assert_eq!(header(&headers, "x-ratelimit-resource"), "core");
    let reset: i64 = header(&headers, "x-ratelimit-reset")
        .parse()
        .expect("epoch");
    assert!((now + 3590..=now + 3610).contains(&reset), "{reset}");

    {
        let mut state = github.state.lock().expect("state");
        state.primary_exhausted = true;
        state.rate_reset = now + 120;
    }
    let (status, headers, body) = api.get("/notifications", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(
        header(&headers, "x-ratelimit-reset"),
        (now + 120).to_string()
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API rate limit exceeded")),
        "{body}"
    );

    // Once the reset time passes, a new window starts.
    github.state.lock().expect("state").rate_reset = now - 1;
    let (status, headers, _) = api.get("/user", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-ratelimit-used"), "1");

    // Using the window up refuses too.
    github.state.lock().expect("state").rate_limit = 3;
    assert_eq!(api.get("/user", &[]).await.0, 200);
    let (_, headers, _) = api.get("/user", &[]).await;
    assert_eq!(header(&headers, "x-ratelimit-remaining"), "0");
    assert_eq!(api.get("/user", &[]).await.0, 403);
}

fn device_request(
    github: &GitHubContract,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}{path}", github.base))
        .header("Accept", "application/json")
        .form(fields)
}

async fn poll(github: &GitHubContract, device_code: &str) -> Value {
    let (status, _, body) = answer(device_request(
        github,
        "/login/oauth/access_token",
        &[
            ("client_id", CLIENT_ID),
            ("device_code", device_code),
            ("grant_type", DEVICE_GRANT),
        ],
    ))
    .await;
    // Device-flow errors come with HTTP 200.
    assert_eq!(status, 200, "{body}");
    body
}

async fn device_code(github: &GitHubContract) -> String {
    let (status, _, body) = answer(device_request(
        github,
        "/login/device/code",
        &[("client_id", CLIENT_ID), ("scope", "notifications repo")],
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    body["device_code"]
        .as_str()
        .expect("device_code")
        .to_owned()
}

#[tokio::test]
async fn the_device_flow_pends_slows_down_then_grants_a_token() {
    let github = GitHubContract::start().await;
    let (status, _, code) = answer(device_request(
        &github,
        "/login/device/code",
        &[("client_id", CLIENT_ID), ("scope", "notifications repo")],
    ))
    .await;
    assert_eq!(status, 200, "{code}");
    assert_eq!(code["user_code"], USER_CODE);
    assert_eq!(
        code["verification_uri"],
        format!("{}/login/device", github.base).as_str()
    );
    assert_eq!(code["expires_in"], 900);
    assert_eq!(code["interval"], 1);
    let device = code["device_code"].as_str().expect("device_code");
    assert_eq!(device.len(), 40);

    assert_eq!(
        poll(&github, device).await["error"],
        "authorization_pending"
    );
    let slow = poll(&github, device).await;
    assert_eq!(slow["error"], "slow_down");
    assert_eq!(slow["interval"], 6);
    assert_eq!(github.now().slow_downs, 1);

    github.state.lock().expect("state").check_poll_speed = false;
    assert_eq!(
        poll(&github, device).await["error"],
        "authorization_pending"
    );
    let granted = poll(&github, device).await;
    assert_eq!(granted["token_type"], "bearer", "{granted}");
    assert_eq!(granted["scope"], "notifications,repo");
    let token = granted["access_token"].as_str().expect("access_token");
    assert!(token.starts_with("gho_"), "{token}");

    let api = Api {
        token: token.to_owned(),
        ..Api::new(&github)
    };
    assert_eq!(api.get("/user", &[]).await.0, 200);
    // A device code works once.
    assert_eq!(
        poll(&github, device).await["error"],
        "incorrect_device_code"
    );
    assert_eq!(github.now().pending_polls, 0);
}

#[tokio::test]
async fn without_accept_json_the_device_flow_answers_in_form_encoding() {
    let github = GitHubContract::start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/login/device/code", github.base))
        .form(&[("client_id", CLIENT_ID), ("scope", "repo")])
        .send()
        .await
        .expect("request");
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")),
        "{response:?}"
    );
    let text = response.text().await.expect("body");
    let fields: HashMap<String, String> = form_urlencoded_pairs(&text);
    assert_eq!(fields["user_code"], USER_CODE);
    assert_eq!(fields["interval"], "1");
    assert_eq!(fields["expires_in"], "900");

    let response = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", github.base))
        .form(&[
            ("client_id", CLIENT_ID),
            ("device_code", fields["device_code"].as_str()),
            ("grant_type", DEVICE_GRANT),
        ])
        .send()
        .await
        .expect("request");
    let fields = form_urlencoded_pairs(&response.text().await.expect("body"));
    assert_eq!(fields["error"], "authorization_pending");
}

/// `a=1&b=2` as a map, with reqwest's own URL parser.
fn form_urlencoded_pairs(text: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .expect("query")
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_device_flow_refuses_as_documented() {
    let github = GitHubContract::start().await;
    let (_, _, body) = answer(device_request(
        &github,
        "/login/device/code",
        &[("client_id", "someone-else")],
    ))
    .await;
    assert_eq!(body["error"], "incorrect_client_credentials");

    let device = device_code(&github).await;
    let refused = |fields: Vec<(&'static str, String)>| {
        let request = reqwest::Client::new()
            .post(format!("{}/login/oauth/access_token", github.base))
            .header("Accept", "application/json")
            .form(&fields);
        async move { answer(request).await.2["error"].clone() }
    };
    assert_eq!(
        refused(vec![
            ("client_id", "someone-else".into()),
            ("device_code", device.clone()),
            ("grant_type", DEVICE_GRANT.into()),
        ])
        .await,
        "incorrect_client_credentials"
    );
    assert_eq!(
        refused(vec![
            ("client_id", CLIENT_ID.into()),
            ("device_code", device.clone()),
            ("grant_type", "authorization_code".into()),
        ])
        .await,
        "unsupported_grant_type"
    );
    assert_eq!(
        poll(&github, "0000").await["error"],
        "incorrect_device_code"
    );

    github.state.lock().expect("state").access_denied = true;
    assert_eq!(poll(&github, &device).await["error"], "access_denied");
    github.state.lock().expect("state").access_denied = false;

    github.state.lock().expect("state").expire_device_codes();
    let expired = poll(&github, &device).await;
    assert_eq!(expired["error"], "expired_token");
    assert!(expired["error_description"].is_string(), "{expired}");
    assert!(expired["error_uri"].is_string(), "{expired}");
    assert!(
        github
            .now()
            .calls
            .iter()
            .all(|c| c.starts_with("POST /login/"))
    );
}
