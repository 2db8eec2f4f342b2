//! The account commands: `apikey` and `user`.

use super::*;
use crate::auth::api_keys;
use std::io::IsTerminal;

pub(super) async fn apikey(settings: &Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    match command {
        ApiKeyCommand::Create { name, role } => {
            let (key, secret) = db.run(move |conn| api_keys::create(conn, &name, role)).await?;
            println!(
                "created API key '{}' (id {}, role {}). Store it now; it is not shown again:",
                key.name, key.id, key.role
            );
            println!("{secret}");
        }
        ApiKeyCommand::List => {
            let keys = db.run(api_keys::list).await?;
            println!(
                "{:<38} {:<24} {:<9} {:<10} {:<20} {:<20} REVOKED",
                "ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED"
            );
            let time = |t: Option<chrono::NaiveDateTime>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
            };
            for k in keys {
                println!(
                    "{:<38} {:<24} {:<9} {:<10} {:<20} {:<20} {}",
                    k.id,
                    k.name,
                    k.role,
                    k.key_prefix,
                    time(Some(k.created_at)),
                    time(k.last_used_at),
                    time(k.revoked_at)
                );
            }
        }
        ApiKeyCommand::Revoke { key } => {
            let revoked = db.run(move |conn| api_keys::revoke(conn, &key)).await?;
            println!("revoked API key '{}' ({})", revoked.name, revoked.id);
        }
    }
    Ok(())
}

/// A new password: from the terminal without echo (twice), else stdin's first line.
fn read_new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub(super) async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    use crate::auth::users;
    let db = open_database(settings).await?;
    match command {
        UserCommand::Create { name, role } => {
            let password = read_new_password()?;
            let user = db.run(move |c| users::create(c, &name, role, &password)).await?;
            println!("created user '{}' (id {}, role {})", user.name, user.id, user.role);
        }
        UserCommand::List => {
            println!("{:<38} {:<24} {:<9} {:<20} DISABLED", "ID", "NAME", "ROLE", "CREATED");
            for u in db.run(|c| users::list(c).map_err(crate::db::DbError::from)).await? {
                let disabled =
                    u.disabled_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{:<38} {:<24} {:<9} {:<20} {disabled}",
                    u.id,
                    u.name,
                    u.role,
                    u.created_at.format("%Y-%m-%d %H:%M:%S")
                );
            }
        }
        UserCommand::SetPassword { name } => {
            let password = read_new_password()?;
            let user = db.run(move |c| users::set_password(c, &name, &password)).await?;
            println!("set a new password for '{}'; their sessions have ended", user.name);
        }
    }
    Ok(())
}
