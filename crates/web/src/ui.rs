//! The web UI: plain HTML, CSS and JavaScript embedded in the binary (no
//! build step, no CDN). A single page that talks to the REST API.

use crate::http::{Request, Response};

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

/// Serves the UI's files.
pub fn serve(req: &Request, path: &str) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::error(405, "method_not_allowed", "method not allowed")
            .with("Allow", "GET");
    }
    let (ct, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/ui/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/ui/app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return Response::error(404, "not_found", "no such page"),
    };
    Response::new(200, ct, body).with("Cache-Control", "no-cache")
}
