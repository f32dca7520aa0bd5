//! The sign-in page (a token form, and a link to the organisation's
//! identity provider when one is configured) and the sign-out control
//! every page of a signed-in reader carries.

use projector::render::html::escape;
use projector::render::Lang;

use super::page::{self, href, Frame};
use super::words::words;

/// Where the sign-in form posts, and where the page is.
pub(super) const SIGN_IN_PATH: &str = "/sign-in";
/// Where the sign-out button posts.
pub(super) const SIGN_OUT_PATH: &str = "/sign-out";
/// Where the OpenID Connect sign-in starts.
pub(super) const OIDC_PATH: &str = "/sign-in/oidc";

/// The page a reader goes back to after signing in: a path of this site
/// only (never `//host` or a scheme), else the tenant list.
pub(super) fn local_path(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if local {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// The sign-in page; `problem` says why the last attempt was refused or
/// why the page is shown, `oidc` whether single sign-on is offered.
pub(super) fn sign_in_page(lang: Lang, next: &str, problem: Option<&str>, oidc: bool) -> String {
    let w = words(lang);
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(w.sign_in),
        escape(w.sign_in_intro)
    );
    if let Some(problem) = problem {
        body.push_str(&format!(
            "<p class=\"panel refuted\" role=\"alert\"><strong>{}:</strong> {}</p>\n",
            escape(w.sign_in_refused),
            escape(problem)
        ));
    }
    if oidc {
        body.push_str(&format!(
            "<p><a class=\"button\" href=\"{}\">{}</a></p>\n",
            escape(&format!("{OIDC_PATH}?next={}", query_escape(next))),
            escape(w.sign_in_oidc)
        ));
    }
    body.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n\
         <label for=\"token\">{}</label>\n\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required>\n\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\n\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">\n\
         <p><button type=\"submit\">{}</button></p>\n</form>\n",
        escape(SIGN_IN_PATH),
        escape(w.sign_in_token),
        escape(next),
        lang.tag(),
        escape(w.sign_in)
    ));
    let frame = Frame {
        lang,
        title: w.sign_in,
        crumbs: vec![page::home(lang)],
        path: SIGN_IN_PATH,
    };
    page::page(&frame, &body)
}

/// The sign-out control, put into the site header of `html` (a page made
/// by `page::page`, whose first `</header>` closes the site header).
pub(super) fn with_sign_out(html: String, lang: Lang, who: &str) -> String {
    let w = words(lang);
    let control = format!(
        "<form class=\"sign-out\" method=\"post\" action=\"{}\">{} <strong>{}</strong> \
         <button type=\"submit\">{}</button></form>\n",
        escape(&href(SIGN_OUT_PATH, lang)),
        escape(w.signed_in_as),
        escape(who),
        escape(w.sign_out)
    );
    html.replacen("</header>", &format!("{control}</header>"), 1)
}

/// `text` for a query string's value.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        for (next, want) in [
            ("/tenants/alver", "/tenants/alver"),
            ("/tenants/alver?lang=en", "/tenants/alver?lang=en"),
            ("//evil.example/", "/"),
            ("https://evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("", "/"),
        ] {
            assert_eq!(local_path(next), want, "{next}");
        }
    }

    #[test]
    fn the_page_escapes_what_it_is_given() {
        let html = sign_in_page(Lang::En, "/\"><script>", Some("<b>"), true);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("type=\"password\""));
        let signed = with_sign_out(html, Lang::En, "<x>");
        assert!(signed.contains("Signed in as <strong>&lt;x&gt;</strong>"));
    }
}
