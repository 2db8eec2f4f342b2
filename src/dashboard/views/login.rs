//! Log-in and first-admin set-up forms.

use super::components::csrf;
use super::layout::bare;
use maud::{html, Markup};

pub fn login(csrf_token: &str, next: &str, error: Option<&str>) -> Markup {
    bare(
        "Log in",
        html! {
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.stack method="post" action="/login" {
                (csrf(csrf_token))
                input type="hidden" name="next" value=(next);
                label { "User name" input type="text" name="name" autocomplete="username" required autofocus; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button.primary type="submit" { "Log in" }
            }
            p.muted { "No account? An admin makes one under Settings → Users, or on the server: " code { "costguard user create --name NAME --role viewer" } }
        },
    )
}

pub fn setup(csrf_token: &str, token: &str, error: Option<&str>) -> Markup {
    bare(
        "Create the first admin",
        html! {
            p { "This link works once, and only while CostGuard has no users." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.stack method="post" action="/setup" {
                (csrf(csrf_token))
                input type="hidden" name="token" value=(token);
                label { "User name" input type="text" name="name" autocomplete="username" required; }
                label { "Password (at least " (crate::auth::passwords::MIN_LENGTH) " characters)" input type="password" name="password" autocomplete="new-password" required; }
                button.primary type="submit" { "Create admin" }
            }
        },
    )
}
