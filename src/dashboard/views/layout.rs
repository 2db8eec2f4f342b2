//! The page shell: header with navigation and who is signed in, then the page.

use super::components::csrf;
use crate::auth::sessions::SessionUser;
use crate::domain::role::Role;
use actix_web::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Anomalies,
    Actions,
    Llm,
    Audit,
    Settings,
    None,
}

fn head(title: &str) -> Markup {
    let v = super::super::assets::version();
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · CostGuard" }
            link rel="icon" href=(format!("/static/favicon.svg?v={v}")) type="image/svg+xml";
            link rel="stylesheet" href=(format!("/static/app.css?v={v}"));
            script src=(format!("/static/app.js?v={v}")) defer {}
        }
    }
}

pub fn page(title: &str, user: &SessionUser, nav: Nav, content: Markup) -> Markup {
    let mut entries = vec![
        (Nav::Overview, "/", "Overview"),
        (Nav::Anomalies, "/anomalies", "Anomalies"),
        (Nav::Actions, "/actions", "Actions"),
        (Nav::Llm, "/llm", "LLM usage"),
        (Nav::Audit, "/audit", "Audit log"),
    ];
    if user.role.allows(Role::Admin) {
        entries.push((Nav::Settings, "/settings", "Settings"));
    }
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { "CostGuard" }
                    nav.main {
                        @for (which, href, label) in &entries {
                            a href=(href) aria-current=[(*which == nav).then_some("page")] { (label) }
                        }
                    }
                    div.who {
                        span { (user.name) " · " (user.role) }
                        form method="post" action="/logout" {
                            (csrf(&user.csrf_token))
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(notice) = &user.notice {
                        p.notice.warning role="alert" { (notice) }
                    }
                    (content)
                }
            }
        }
    }
}

/// Pages before log-in: no navigation.
pub fn bare(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare { main.narrow { h1 { "CostGuard" } h2 { (title) } (content) } }
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    bare(title, html! { p.error { (message) } p { a href="/" { "Back to the overview" } } })
}
