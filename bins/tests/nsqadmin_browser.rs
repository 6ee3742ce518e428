//! nsqadmin's web UI in headless Chromium (through chromedriver and the
//! W3C WebDriver protocol), against a real cluster: one nsqlookupd, two
//! nsqd, nsqadmin under `--base-path=/admin`. What an operator does: sees a
//! new topic appear, opens it and its channel, pauses, empties and deletes
//! the channel (each confirmed in a dialog; the nodes' own `/stats` must
//! agree), and watches the counter move while messages flow.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `.ci/run` installs them). Without them the test fails
//! when `CI=true` and is skipped otherwise. On failure a screenshot is saved
//! in the test's temp dir (kept) and its path printed. With
//! `NSQADMIN_SCREENSHOTS=<dir>` every page is also saved there.

mod common;

use common::{eventually, Nsqadmin, Nsqd, Nsqlookupd};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type R<T> = Result<T, String>;

const WAIT: Duration = Duration::from_secs(15);
/// The pages poll this often in the test.
const REFRESH: &str = "refresh=300ms";

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

/// chromedriver; on drop it ends the browser session (Chromium exits
/// cleanly, also after a panic) and is stopped itself.
struct Driver {
    child: Child,
    port: u16,
    session: std::sync::Mutex<Option<String>>,
}

impl Driver {
    fn start(bin: &Path) -> Driver {
        let mut child = Command::new(bin)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(p) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim_end_matches('.').parse::<u16>().ok())
                {
                    let _ = tx.send(p);
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not report its port");
            }
        };
        Driver {
            child,
            port,
            session: std::sync::Mutex::new(None),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let open = self.session.lock().map(|mut s| s.take()).unwrap_or(None);
        if let Some(id) = open {
            end_session(self.port, &id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `DELETE /session/{id}`, best effort: Chromium quits with its session.
fn end_session(port: u16, id: &str) {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_ok() {
        // the answer's head is enough: the session is gone once it comes
        let _ = s.read(&mut [0u8; 512]);
    }
}

struct Browser {
    c: Client,
    base: String,
    dir: tempfile::TempDir,
    shots: Option<PathBuf>,
}

fn e<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |err| format!("{what}: {err}")
}

impl Browser {
    async fn open(driver: &Driver, base: String) -> Browser {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = dir.path().join("profile");
        let chromium =
            find_tool(&["chromium", "chromium-browser", "google-chrome"]).expect("chromium");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a WebDriver session with headless Chromium");
        if let Ok(Some(id)) = c.session_id().await {
            *driver.session.lock().unwrap() = Some(id);
        }
        let shots = std::env::var_os("NSQADMIN_SCREENSHOTS").map(PathBuf::from);
        Browser {
            c,
            base,
            dir,
            shots,
        }
    }

    async fn goto(&self, path: &str) -> R<()> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}{REFRESH}", self.base);
        self.c.goto(&url).await.map_err(e(&url))
    }

    async fn wait(&self, css: &str) -> R<fantoccini::elements::Element> {
        self.c
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .map_err(e(&format!("waiting for {css}")))
    }

    /// Waits until the text of `css` is `want` (the page re-renders as it polls).
    async fn wait_text(&self, css: &str, want: &str) -> R<()> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(el) = self.c.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if t.trim() == want {
                        return Ok(());
                    }
                    last = t;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{css}: wanted {want:?}, last saw {last:?}"))
    }

    async fn gone(&self, css: &str) -> R<()> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.c.find(Locator::Css(css)).await.is_err() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{css} is still there"))
    }

    /// Clicks `css` once it is there (the pages redraw their tables as
    /// they poll: an element found a moment ago may have been replaced).
    async fn click(&self, css: &str) -> R<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = match self.wait(css).await {
                Ok(el) => el.click().await.map_err(e(&format!("click {css}"))),
                Err(err) => Err(err),
            };
            match r {
                Err(err) if err.contains("stale element") && Instant::now() < deadline => continue,
                other => return other,
            }
        }
    }

    /// Clicks an action button, then answers its confirmation.
    async fn act(&self, action: &str, confirm: bool) -> R<()> {
        self.click(&format!("button[data-action=\"{action}\"]:not([hidden])"))
            .await?;
        self.wait("dialog#confirm[open]").await?;
        let text = self
            .wait("#confirm-text")
            .await?
            .text()
            .await
            .map_err(e("dialog text"))?;
        if !text.starts_with(&format!("Are you sure you want to {action}")) {
            return Err(format!("the dialog asks {text:?}"));
        }
        self.click(if confirm {
            "#confirm-ok"
        } else {
            "#confirm-cancel"
        })
        .await?;
        self.gone("dialog#confirm[open]").await
    }

    async fn js(&self, script: &str) -> R<Value> {
        self.c.execute(script, vec![]).await.map_err(e(script))
    }

    async fn screenshot(&self, dir: &Path, name: &str) -> R<PathBuf> {
        let png = self.c.screenshot().await.map_err(e("screenshot"))?;
        let p = dir.join(format!("{name}.png"));
        std::fs::write(&p, png).map_err(e("write screenshot"))?;
        Ok(p)
    }

    /// Saves the page for review when NSQADMIN_SCREENSHOTS is set.
    async fn keep(&self, name: &str) {
        if let Some(d) = &self.shots {
            let _ = std::fs::create_dir_all(d);
            // let the sparklines gather a few samples first
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = self.screenshot(d, name).await;
        }
    }
}

fn node(n: &Nsqd) -> String {
    format!("127.0.0.1:{}", n.http().port())
}

fn channel_stats(n: &Nsqd, topic: &str, channel: &str) -> Option<Value> {
    let s = n.stats(&format!("&topic={topic}&channel={channel}"));
    s["topics"].as_array()?.first()?["channels"]
        .as_array()?
        .iter()
        .find(|c| c["channel_name"] == channel)
        .cloned()
}

/// Waits until `f` holds for `topic/channel` on both nodes.
fn on_both(
    a: &Nsqd,
    b: &Nsqd,
    topic: &str,
    channel: &str,
    f: impl Fn(Option<&Value>) -> bool,
) -> R<()> {
    eventually(WAIT, || {
        [a, b]
            .iter()
            .all(|n| f(channel_stats(n, topic, channel).as_ref()))
            .then_some(())
    })
    .ok_or_else(|| {
        format!(
            "nsqd stats never agreed: A {:?}, B {:?}",
            channel_stats(a, topic, channel),
            channel_stats(b, topic, channel)
        )
    })
}

fn post(n: &Nsqd, path: &str, body: &[u8]) -> R<()> {
    let r = n.http_req("POST", path, body);
    (r.status == 200)
        .then_some(())
        .ok_or_else(|| format!("{path}: {} {}", r.status, r.text()))
}

struct World {
    lookupd: Nsqlookupd,
    a: Nsqd,
    b: Nsqd,
    /// The same cluster, for someone who is not an admin user.
    visitor: Nsqadmin,
}

async fn scenarios(br: &Browser, w: &World) -> R<()> {
    let (a, b) = (&w.a, &w.b);

    // A producer creates a topic; the open topics page shows it.
    br.goto("/").await?;
    br.wait("h1").await?;
    br.wait_text("h1", "Topics").await?;
    post(a, "/pub?topic=orders", b"first")?;
    br.wait("#topics tr[data-topic=\"orders\"]").await?;
    br.keep("topics").await;

    // Its channel, on both nodes, with the depth of both.
    for n in [a, b] {
        post(n, "/topic/create?topic=orders", b"")?;
        post(n, "/channel/create?topic=orders&channel=billing", b"")?;
    }
    for _ in 0..2 {
        post(a, "/pub?topic=orders", b"a")?;
    }
    for _ in 0..2 {
        post(b, "/pub?topic=orders", b"b")?;
    }
    eventually(WAIT, || {
        let r = w.lookupd.get("/lookup?topic=orders");
        (r.status == 200 && r.json()["producers"].as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .ok_or("lookupd never listed both nodes")?;
    br.click("#topics tr[data-topic=\"orders\"] a").await?;
    br.wait_text(
        "#channels tr[data-channel=\"billing\"] td[data-col=\"depth\"]",
        "5",
    )
    .await?;
    for n in [a, b] {
        br.wait(&format!("#topic-nodes tr[data-node=\"{}\"]", node(n)))
            .await?;
    }
    // Live charts without graphite: a few polls draw the depth sparkline.
    br.wait("#channels tr[data-channel=\"billing\"] svg.spark-depth polyline")
        .await?;
    br.keep("topic").await;

    // The channel page: per-node rows, total, and a consumer's RDY.
    let mut consumer = a.client();
    consumer.send_with(|out| {
        nsq_core::wire::command::encode::identify(
            out,
            br#"{"client_id":"worker-7","hostname":"worker7.example","user_agent":"browser-test/1.0","feature_negotiation":true}"#,
        )
    });
    let _ = consumer.response();
    consumer.send_with(|out| nsq_core::wire::command::encode::sub(out, "orders", "billing"));
    consumer.send_with(|out| nsq_core::wire::command::encode::rdy(out, 1));
    br.click("#channels tr[data-channel=\"billing\"] a").await?;
    br.wait("#channel-nodes").await?;
    br.wait_text("[data-card=\"depth\"] .card-value", "4")
        .await?;
    br.wait_text("#clients td[data-col=\"ready_count\"]", "1")
        .await?;
    br.wait_text("#clients td[data-col=\"in_flight_count\"]", "1")
        .await?;
    br.keep("channel").await;
    drop(consumer);
    br.wait_text("[data-card=\"client_count\"] .card-value", "0")
        .await?;

    // Pause: the dialog guards it (cancel changes nothing), then both nodes pause.
    br.act("pause", false).await?;
    std::thread::sleep(Duration::from_millis(300));
    on_both(a, b, "orders", "billing", |s| {
        s.is_some_and(|s| s["paused"] == false)
    })?;
    br.act("pause", true).await?;
    on_both(a, b, "orders", "billing", |s| {
        s.is_some_and(|s| s["paused"] == true)
    })?;
    br.wait("button[data-action=\"unpause\"]:not([hidden])")
        .await?;
    br.wait(".page-head .badge-paused").await?;
    br.act("unpause", true).await?;
    on_both(a, b, "orders", "billing", |s| {
        s.is_some_and(|s| s["paused"] == false)
    })?;

    // Empty.
    br.act("empty", true).await?;
    on_both(a, b, "orders", "billing", |s| {
        s.is_some_and(|s| s["depth"] == 0)
    })?;
    br.wait_text("[data-card=\"depth\"] .card-value", "0")
        .await?;

    // Delete: gone from both nodes, and the page moves to the topic.
    br.act("delete", true).await?;
    on_both(a, b, "orders", "billing", |s| s.is_none())?;
    br.wait("#topic-nodes").await?;
    let url = br.c.current_url().await.map_err(e("url"))?;
    if !url.path().ends_with("/admin/topics/orders") {
        return Err(format!("after deleting the channel the page is {url}"));
    }
    br.gone("#channels").await?;

    // The counter moves while messages flow.
    for n in [a, b] {
        post(n, "/channel/create?topic=orders&channel=tail", b"")?;
    }
    let flowing = Arc::new(AtomicBool::new(true));
    let addr = a.http();
    let run = Arc::clone(&flowing);
    let publisher = std::thread::spawn(move || {
        let mut conn = nsq_bins::http1::Conn::connect(addr).expect("connect");
        while run.load(Ordering::Acquire) {
            let _ = conn.request("POST", "/pub?topic=orders", b"tick");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    br.click("a[data-nav=\"counter\"]").await?;
    br.wait("#counter-total .digit").await?;
    let shown = || async {
        br.js("return Number(document.getElementById('counter-total').dataset.shown || -1)")
            .await
            .map(|v| v.as_f64().unwrap_or(-1.0))
    };
    let first = shown().await?;
    let deadline = Instant::now() + WAIT;
    let mut later = first;
    while Instant::now() < deadline && later < first + 20.0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        later = shown().await?;
    }
    br.keep("counter").await;
    flowing.store(false, Ordering::Release);
    let _ = publisher.join();
    if later < first + 20.0 {
        return Err(format!("the counter stayed at {later} (from {first})"));
    }
    br.wait(".counter-chart svg polyline").await?;
    let rate = br
        .wait("#counter-rate")
        .await?
        .text()
        .await
        .map_err(e("rate"))?;
    if !rate.ends_with("messages/s") {
        return Err(format!("no rate under the counter: {rate:?}"));
    }

    // Nodes, a node, lookup: they render the cluster.
    br.click("a[data-nav=\"nodes\"]").await?;
    for n in [a, b] {
        br.wait(&format!("#nodes tr[data-node=\"{}\"]", node(n)))
            .await?;
    }
    br.keep("nodes").await;
    br.click(&format!("#nodes tr[data-node=\"{}\"] a", node(a)))
        .await?;
    br.wait("section[data-topic=\"orders\"]").await?;
    br.keep("node").await;
    br.click("a[data-nav=\"lookup\"]").await?;
    br.wait("#lookupds").await?;
    let form = br.wait("form#create").await?;
    form.find(Locator::Css("input[name=topic]"))
        .await
        .map_err(e("topic field"))?
        .send_keys("planned")
        .await
        .map_err(e("type"))?;
    form.find(Locator::Css("input[name=channel]"))
        .await
        .map_err(e("channel field"))?
        .send_keys("later")
        .await
        .map_err(e("type"))?;
    br.click("form#create button[type=submit]").await?;
    br.wait("#create-result .ok").await?;
    br.wait("#inactive li[data-topic=\"planned\"] li[data-channel=\"later\"]")
        .await?;
    br.keep("lookup").await;

    // Base path: every request of the UI stayed under /admin.
    let outside = br
        .js("return performance.getEntriesByType('resource').map(r => new URL(r.name).pathname).filter(p => !p.startsWith('/admin/'))")
        .await?;
    if outside != json!([]) {
        return Err(format!("requests outside the base path: {outside}"));
    }

    // Someone who is not an admin user gets the same pages without actions.
    br.c.goto(&format!(
        "http://{}/topics/orders?{REFRESH}",
        w.visitor.http()
    ))
    .await
    .map_err(e("visitor's topic page"))?;
    br.wait("#topic-nodes").await?;
    if br.c.find(Locator::Css("button[data-action]")).await.is_ok() {
        return Err("a visitor without admin rights sees action buttons".into());
    }
    if br
        .c
        .find(Locator::Css("button[data-tombstone]"))
        .await
        .is_ok()
    {
        return Err("a visitor without admin rights sees tombstone buttons".into());
    }
    // With --graphite-url the page shows graphite's history of the topic.
    let img = br.wait("section.graphite img").await?;
    let src = img
        .attr("src")
        .await
        .map_err(e("graph src"))?
        .unwrap_or_default();
    if !src.starts_with("http://127.0.0.1:1/render?") || !src.contains("topic.orders.depth") {
        return Err(format!("graphite graph at {src}"));
    }
    br.click("a[data-nav=\"lookup\"]").await?;
    br.wait("#lookupds").await?;
    if br.c.find(Locator::Css("form#create")).await.is_ok() {
        return Err("a visitor without admin rights sees the create form".into());
    }
    Ok(())
}

/// Finds what sticks out at the current width: the page scrolling sideways,
/// or a table wider than its container without a scrolling box around it
/// (a table may scroll inside its own container, the page may not).
const OVERFLOW_JS: &str = r#"
const bad = [], scrolls = [];
const de = document.documentElement;
if (de.scrollWidth > de.clientWidth) bad.push(`page: scrollWidth ${de.scrollWidth} > clientWidth ${de.clientWidth}`);
for (const t of document.querySelectorAll('main table')) {
  let scroller = null;
  for (let p = t.parentElement; p && p !== document.body; p = p.parentElement) {
    const ox = getComputedStyle(p).overflowX;
    if (ox === 'auto' || ox === 'scroll') { scroller = p; break; }
  }
  const name = t.id ? '#' + t.id : (t.closest('[data-topic]') ? `table of ${t.closest('[data-topic]').dataset.topic}` : 'a table');
  const box = t.parentElement;
  const width = t.getBoundingClientRect().width;
  if (!scroller && width > box.clientWidth + 0.5) bad.push(`${name}: ${width}px in a container of ${box.clientWidth}px`);
  if (scroller && scroller.getBoundingClientRect().right > de.clientWidth + 0.5) bad.push(`${name}: its scroll box ends past the page`);
  if (t.scrollWidth > t.clientWidth + 1 && !scroller) bad.push(`${name}: clipped (${t.scrollWidth}px of content in ${t.clientWidth}px)`);
  if (scroller && scroller.scrollWidth > scroller.clientWidth) scrolls.push(`${name} scrolls in its box (${scroller.scrollWidth}px in ${scroller.clientWidth}px)`);
}
return {bad, scrolls};
"#;

/// The pages at 1024 and 1400 px with realistic data: long topic, channel
/// and host names, several consumers with user agents and badges, latency
/// percentiles. Nothing may make the page scroll sideways.
async fn layout(br: &Browser) -> R<()> {
    let lookupd = Nsqlookupd::start(&[]);
    let lookup_arg = format!("--lookupd-tcp-address={}", lookupd.tcp());
    let latency = "--e2e-processing-latency-percentile=0.99,0.95,0.5";
    let a = Nsqd::start(&[&lookup_arg, latency]);
    let b = Nsqd::start(&[&lookup_arg, latency]);
    let admin = Nsqadmin::start(&[&format!("--lookupd-http-address={}", lookupd.http())]);
    // 64 characters: NSQ's longest names
    let topic = "com.example.billing-service.invoices.v2.payment_events_processed";
    let channels = [
        "archive-to-object-storage.eu-west-1.long-retention-bucket-writer",
        "fraud-scoring",
        "ledger-reconciliation.nightly#ephemeral",
    ];
    assert_eq!(topic.len(), 64);
    for n in [&a, &b] {
        post(n, &format!("/topic/create?topic={topic}"), b"")?;
        for c in channels {
            let c = c.replace('#', "%23");
            post(
                n,
                &format!("/channel/create?topic={topic}&channel={c}"),
                b"",
            )?;
        }
        for i in 0..25 {
            post(
                n,
                &format!("/pub?topic={topic}"),
                format!("{{\"invoice\":{i}}}").as_bytes(),
            )?;
        }
        post(n, "/pub?topic=short", b"x")?;
    }
    let mut consumers = Vec::new();
    for i in 0..6 {
        let n = if i % 2 == 0 { &a } else { &b };
        let mut c = n.client();
        let identify = json!({
            "client_id": format!("billing-archiver-{i}.prod"),
            "hostname": format!("ip-10-42-{i}-17.eu-west-1.compute.internal.example.com"),
            "user_agent": "go-nsq/1.1.0 (billing-archiver/3.14.159; linux amd64; rev 4f2a9c1e)",
            "feature_negotiation": true,
            "sample_rate": if i == 0 { 50 } else { 0 },
        })
        .to_string();
        c.send_with(|out| nsq_core::wire::command::encode::identify(out, identify.as_bytes()));
        let _ = c.response();
        c.send_with(|out| nsq_core::wire::command::encode::sub(out, topic, channels[0]));
        c.send_with(|out| nsq_core::wire::command::encode::rdy(out, 3));
        consumers.push(c);
    }
    eventually(WAIT, || {
        let r = lookupd.get(&format!("/lookup?topic={topic}"));
        (r.status == 200 && r.json()["producers"].as_array().map(Vec::len) == Some(2)).then_some(())
    })
    .ok_or("lookupd never listed both nodes")?;

    let base = format!("http://{}", admin.http());
    let node_a = node(&a);
    let pages = [
        (
            "topics",
            "/".to_string(),
            format!("#topics tr[data-topic=\"{topic}\"]"),
        ),
        (
            "topic",
            format!("/topics/{topic}"),
            format!("#channels tr[data-channel=\"{}\"]", channels[2]),
        ),
        (
            "channel",
            format!("/topics/{topic}/{}", channels[0]),
            "#clients tr:nth-child(6)".to_string(),
        ),
        (
            "nodes",
            "/nodes".to_string(),
            format!("#nodes tr[data-node=\"{}\"]", node(&b)),
        ),
        (
            "node",
            format!("/nodes/{node_a}"),
            format!("section[data-topic=\"{topic}\"] tr.client"),
        ),
    ];
    let mut problems = Vec::new();
    for width in [1024u32, 1400] {
        br.c.set_window_size(width, 900)
            .await
            .map_err(e("window size"))?;
        for (name, path, ready) in &pages {
            let url = format!("{base}{path}?{REFRESH}");
            br.c.goto(&url).await.map_err(e(&url))?;
            br.wait(ready).await?;
            // a few polls: rates, sparklines and latency columns fill in
            tokio::time::sleep(Duration::from_millis(1200)).await;
            br.keep(&format!("layout-{name}-{width}")).await;
            let found = br.js(OVERFLOW_JS).await?;
            let list = |k: &str| -> Vec<String> {
                found[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{name} page at {width}px: {}", p.as_str().unwrap_or("?")))
                    .collect()
            };
            if !found["bad"].is_array() {
                return Err(format!("the overflow check answered {found}"));
            }
            problems.extend(list("bad"));
            // allowed, but worth knowing when a page changes
            for s in list("scrolls") {
                eprintln!("{s}");
            }
        }
    }
    br.c.set_window_size(1400, 1000)
        .await
        .map_err(e("window size"))?;
    drop(consumers);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("horizontal overflow:\n  {}", problems.join("\n  ")))
    }
}

async fn close(br: &Browser, driver: &Driver) {
    if br.c.clone().close().await.is_ok() {
        if let Ok(mut s) = driver.session.lock() {
            s.take();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_a_real_browser() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let (Some(_), Some(driver_bin)) = (
        find_tool(&["chromium", "chromium-browser", "google-chrome"]),
        find_tool(&["chromedriver"]),
    ) else {
        if ci {
            panic!("chromium and chromedriver are needed for the browser tests (apt-get install chromium chromium-driver)");
        }
        eprintln!("SKIPPED: nsqadmin browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let started = Instant::now();
    let lookupd = Nsqlookupd::start(&[]);
    let arg = format!("--lookupd-tcp-address={}", lookupd.tcp());
    let a = Nsqd::start(&[&arg]);
    let b = Nsqd::start(&[&arg]);
    let admin = Nsqadmin::start(&[
        &format!("--lookupd-http-address={}", lookupd.http()),
        "--base-path=/admin",
    ]);
    let visitor = Nsqadmin::start(&[
        &format!("--lookupd-http-address={}", lookupd.http()),
        "--admin-user=ops",
        // nothing listens there: only the graphs' addresses are checked
        "--graphite-url=http://127.0.0.1:1",
    ]);
    let base = format!("http://{}/admin", admin.http());
    let w = World {
        lookupd,
        a,
        b,
        visitor,
    };
    let driver = Driver::start(&driver_bin);
    let br = Browser::open(&driver, base).await;
    let mut outcome = scenarios(&br, &w).await;
    if outcome.is_ok() {
        outcome = layout(&br).await;
    }
    if let Err(msg) = outcome {
        let dir = br.dir.path().to_path_buf();
        let shot = br.screenshot(&dir, "failure").await;
        close(&br, &driver).await;
        let kept = br.dir.keep();
        panic!(
            "{msg}\nscreenshot: {}\n(temp dir kept: {})",
            shot.map(|p| p.display().to_string()).unwrap_or_else(|e| e),
            kept.display()
        );
    }
    close(&br, &driver).await;
    eprintln!("browser scenarios took {:?}", started.elapsed());
}
