//! A small HTTP/1.1 file server for tests, inside the test process on 127.0.0.1, with
//! misbehaviours on demand: drop the connection mid-body, ignore Range, answer with an
//! error status, stall, or send slowly. It honours Range and If-Range (strong ETags) the
//! way real servers do, and logs every request.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub enum Behave {
    /// Send headers for the whole answer, then only this many body bytes, then close.
    DropAfter(usize),
    /// Answer 200 with the whole file, whatever Range says.
    IgnoreRange,
    /// Answer with this status (and `Retry-After: 0` for 429/503).
    Status(u16),
    /// Send this many bytes, then go silent for the duration.
    StallAfter(usize, Duration),
    /// Send in chunks of this size with a pause between them.
    Slow(usize, Duration),
    /// The file on the server changes to these bytes before this request is answered.
    ReplaceWith(Vec<u8>),
    /// Announce no length and send this byte pattern forever (until the client hangs up).
    Endless,
}

#[derive(Clone, Debug)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
    pub body_bytes: usize,
    /// The Authorization header the client sent, if any (to show where credentials went).
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    /// Registry token auth: /v2/ wants `Bearer <token>`; /token hands it out (to these basic
    /// credentials, when set).
    token: Option<(String, Option<String>)>,
    /// The token realm the 401 challenge names, when not this server's own /token.
    realm: Option<String>,
    files: HashMap<String, Vec<u8>>,
    once: HashMap<String, VecDeque<Behave>>,
    always: HashMap<String, Behave>,
    log: Vec<Logged>,
}

#[derive(Clone)]
pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(c, &st);
                });
            }
        });
        Server { base, state }
    }
    pub fn put(&self, path: &str, bytes: Vec<u8>) {
        self.state.lock().unwrap().files.insert(path.to_string(), bytes);
    }
    /// The next requests for `path` misbehave in this order, then it is served normally.
    pub fn once(&self, path: &str, b: Behave) {
        self.state.lock().unwrap().once.entry(path.to_string()).or_default().push_back(b);
    }
    pub fn always(&self, path: &str, b: Behave) {
        self.state.lock().unwrap().always.insert(path.to_string(), b);
    }
    /// Behave like a token-protected registry (the Docker token flow).
    pub fn require_token(&self, token: &str, basic: Option<&str>) {
        self.state.lock().unwrap().token = Some((token.to_string(), basic.map(str::to_string)));
    }
    /// The registry's challenge names this token realm (another server, another host).
    pub fn token_realm(&self, realm: &str) {
        self.state.lock().unwrap().realm = Some(realm.to_string());
    }
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }
    pub fn requests_for(&self, path: &str) -> Vec<Logged> {
        self.log().into_iter().filter(|l| l.path == path).collect()
    }
}

fn etag(b: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(b))[..16])
}

fn handle(mut c: TcpStream, st: &Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut r = BufReader::new(c.try_clone()?);
    let mut first = String::new();
    r.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 || l == "\r\n" {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let token = st.lock().unwrap().token.clone();
    let realm = st.lock().unwrap().realm.clone();
    let authorization = headers.get("authorization").cloned();
    if let Some((tok, basic)) = token {
        let host = headers.get("host").cloned().unwrap_or_default();
        if path.starts_with("/token") {
            let want_basic = basic.map(|b| {
                use base64::Engine as _;
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(b))
            });
            let ok = want_basic.is_none_or(|w| headers.get("authorization") == Some(&w));
            let (code, body) = if ok && path.contains("scope=repository") { (200, format!("{{\"token\":\"{tok}\"}}")) } else { (401, String::new()) };
            write!(c, "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
            st.lock().unwrap().log.push(Logged { path, range: None, if_range: None, status: code, body_bytes: body.len(), authorization });
            return Ok(());
        }
        if path.starts_with("/v2/") && headers.get("authorization") != Some(&format!("Bearer {tok}")) {
            let repo = path.trim_start_matches("/v2/").split("/manifests/").next().unwrap().split("/blobs/").next().unwrap().to_string();
            let realm = realm.unwrap_or_else(|| format!("http://{host}/token"));
            write!(
                c,
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"test-registry\",scope=\"repository:{repo}:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            st.lock().unwrap().log.push(Logged { path, range: None, if_range: None, status: 401, body_bytes: 0, authorization });
            return Ok(());
        }
    }
    let (file, behave) = {
        let mut s = st.lock().unwrap();
        let b = s.once.get_mut(&path).and_then(|q| q.pop_front()).or_else(|| s.always.get(&path).cloned());
        if let Some(Behave::ReplaceWith(bytes)) = &b {
            s.files.insert(path.clone(), bytes.clone());
        }
        (s.files.get(&path).cloned(), b)
    };
    let range = headers.get("range").cloned();
    let if_range = headers.get("if-range").cloned();
    let mut logged = Logged { path: path.clone(), range: range.clone(), if_range: if_range.clone(), status: 200, body_bytes: 0, authorization };
    let result = (|| -> std::io::Result<()> {
        if let Some(Behave::Status(code)) = behave {
            logged.status = code;
            let extra = if code == 429 || code == 503 { "Retry-After: 0\r\n" } else { "" };
            write!(c, "HTTP/1.1 {code} Test\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n")?;
            return Ok(());
        }
        if let Some(Behave::Endless) = behave {
            write!(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = vec![b'z'; 64 * 1024];
            loop {
                c.write_all(&chunk)?;
                logged.body_bytes += chunk.len();
            }
        }
        let Some(file) = file else {
            logged.status = 404;
            write!(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        };
        let tag = etag(&file);
        let mut start = 0usize;
        let honour = !matches!(behave, Some(Behave::IgnoreRange)) && if_range.as_ref().is_none_or(|v| *v == tag);
        if let (Some(rg), true) = (&range, honour) {
            if let Some(s) = rg.strip_prefix("bytes=").and_then(|x| x.strip_suffix('-')).and_then(|x| x.parse::<usize>().ok()) {
                if s >= file.len() {
                    logged.status = 416;
                    write!(c, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", file.len())?;
                    return Ok(());
                }
                start = s;
            }
        }
        let body = &file[start..];
        if start > 0 {
            logged.status = 206;
            write!(
                c,
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nETag: {tag}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
                file.len() - 1,
                file.len(),
                body.len()
            )?;
        } else {
            write!(c, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {tag}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n", body.len())?;
        }
        match behave {
            Some(Behave::DropAfter(n)) => {
                let n = n.min(body.len());
                c.write_all(&body[..n])?;
                logged.body_bytes = n;
                c.flush()?;
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            Some(Behave::StallAfter(n, d)) => {
                let n = n.min(body.len());
                c.write_all(&body[..n])?;
                c.flush()?;
                logged.body_bytes = n;
                std::thread::sleep(d);
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
            Some(Behave::Slow(chunk, d)) => {
                for part in body.chunks(chunk) {
                    c.write_all(part)?;
                    c.flush()?;
                    logged.body_bytes += part.len();
                    std::thread::sleep(d);
                }
            }
            _ => {
                c.write_all(body)?;
                logged.body_bytes = body.len();
            }
        }
        Ok(())
    })();
    st.lock().unwrap().log.push(logged);
    result
}
