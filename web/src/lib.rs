//! The read side of tla-ledger served over HTTP: the web report viewer,
//! the live projection and the projector's read API.
//!
//! Everything here sits on top of the pure engine (`projector`) and does
//! the I/O the engine must not: `viewer` holds the viewer's pages (pure
//! functions of what its source returned) and `viewer::router`, the axum
//! `Router` over a [`viewer::ViewerSource`] that every server mounts;
//! `live` follows every tenant's events in memory, fed by whoever holds
//! the ledger, and computes reports and alerts on demand; `service` is the
//! `Router` of `/v1/tenants/...` over it and the refresher that keeps
//! current months computed and hands alerts to a publish function it is
//! given. `access` decides who reads which tenant (bearer tokens through
//! the binary's `Credentials`, or a viewer session from `session`, an
//! encrypted cookie, begun with a token or through `signon`'s OpenID
//! Connect provider) and writes the access log. Reports come in through the source or the live projection,
//! never through sled: this crate does not depend on `ledger`.

pub mod access;
pub mod live;
pub mod service;
pub mod session;
pub mod signon;
pub mod viewer;
