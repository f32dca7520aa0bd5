//! The sign-in page (a token form, and a link to the organisation's
//! identity provider when one is configured), the page refusing a person
//! the identity provider signed in but who may read nothing, and the
//! sign-out control every page of a signed-in reader carries.

use maud::{html, PreEscaped};
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
/// why the page is shown, `oidc` names the identity provider when single
/// sign-on is offered.
pub(super) fn sign_in_page(
    lang: Lang,
    next: &str,
    problem: Option<&str>,
    oidc: Option<&str>,
) -> String {
    let w = words(lang);
    let intro = match oidc {
        Some(_) => w.sign_in_intro_oidc,
        None => w.sign_in_intro,
    };
    let body = html! {
        h1 { (w.sign_in) } "\n"
        p { (intro) } "\n"
        @if let Some(problem) = problem {
            p class="panel refuted" role="alert" { strong { (w.sign_in_refused) ":" } " " (problem) } "\n"
        }
        @if let Some(provider) = oidc {
            p {
                a class="button" href={ (OIDC_PATH) "?next=" (query_escape(next)) "&lang=" (lang.tag()) } {
                    (w.sign_in_oidc) " " (provider)
                }
            }
            "\n"
        }
        form method="post" action=(SIGN_IN_PATH) {
            "\n"
            label for="token" { (w.sign_in_token) } "\n"
            input type="password" id="token" name="token" autocomplete="current-password" required; "\n"
            input type="hidden" name="next" value=(next); "\n"
            input type="hidden" name="lang" value=(lang.tag()); "\n"
            p { button type="submit" { (w.sign_in) } } "\n"
        }
        "\n"
    };
    let frame = Frame {
        lang,
        title: w.sign_in,
        crumbs: vec![page::home(lang)],
        path: SIGN_IN_PATH,
    };
    page::page(&frame, body)
}

/// The page refusing `who`, whom the identity provider signed in but
/// whose claims grant no tenant.
pub(super) fn no_grant_page(lang: Lang, who: &str) -> String {
    let w = words(lang);
    let message = w.sign_in_no_grant.replace("{who}", who);
    page::error_page(lang, w.forbidden, &message, SIGN_IN_PATH)
}

/// The sign-out control, put into the site header of `page` (a page made
/// by `page::page`, whose first `</header>` closes the site header). The
/// viewer's one splice of markup into markup: the pages are built before
/// the router knows who reads them, so the control goes in afterwards;
/// the control itself is a template, `who` escaped like every string.
pub(super) fn with_sign_out(page: String, lang: Lang, who: &str) -> String {
    let w = words(lang);
    let Some((before, after)) = page.split_once(SITE_HEADER_END) else {
        return page;
    };
    let signed = html! {
        (PreEscaped(before))
        form class="sign-out" method="post" action=(href(SIGN_OUT_PATH, lang)) {
            (w.signed_in_as) " " strong { (who) } " " button type="submit" { (w.sign_out) }
        }
        "\n"
        (PreEscaped(SITE_HEADER_END))
        (PreEscaped(after))
    };
    signed.into_string()
}

/// The end tag of the site header, where [`with_sign_out`] puts its control.
// tidy: allow (a splice point, not markup built by hand)
const SITE_HEADER_END: &str = "</header>";

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
        let html = sign_in_page(Lang::En, "/\"><script>", Some("<b>"), Some("<i>"));
        assert!(
            !html.contains("<script>") && !html.contains("<b>") && !html.contains("<i>"),
            "{html}"
        );
        assert!(
            html.contains("Sign in with &lt;i&gt;</a>")
                && html.contains("/sign-in/oidc?next=/%22%3E%3Cscript%3E&amp;lang=en"),
            "{html}"
        );
        let tokens_only = sign_in_page(Lang::En, "/", None, None);
        assert!(!tokens_only.contains("/sign-in/oidc") && !tokens_only.contains("organisation"));
        assert!(html.contains("account, or with the access token"));
        let refused = no_grant_page(Lang::En, "oidc:<x>");
        assert!(refused.contains("knows you as oidc:&lt;x&gt;"), "{refused}");
        assert!(html.contains("type=\"password\""));
        let signed = with_sign_out(html, Lang::En, "<script>alert(1)</script>");
        assert!(
            signed.contains("Signed in as <strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"),
            "{signed}"
        );
        assert_eq!(signed.matches("<script").count(), 0, "{signed}");
    }
}
