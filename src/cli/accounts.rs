//! The account commands: `apikey` and `user`.

use super::*;
use crate::auth::api_keys;
use std::io::IsTerminal;

/// Who the audit log names for a command run here: the CLI and the operating-system user.
fn actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

/// Records a change made from the command line in its own transaction, then publishes the
/// chain's new head as the server would.
async fn audited(
    db: &crate::db::Db,
    settings: &Settings,
    action: &'static str,
    target: String,
    detail: String,
) -> anyhow::Result<()> {
    let by = actor();
    db.run(move |c| crate::audit::note(c, &by, action, &target, &detail).map_err(crate::db::DbError::from)).await?;
    crate::audit::heads::Publisher::new(settings.audit.head_path(&settings.data.dir)).publish(db).await?;
    Ok(())
}

pub(super) async fn apikey(settings: &Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    let db = open_database(settings).await?;
    match command {
        ApiKeyCommand::Create { name, role } => {
            let (key, secret) = db.run(move |conn| api_keys::create(conn, &name, role)).await?;
            audited(&db, settings, "apikey.create", key.name.clone(), format!("role {}", key.role)).await?;
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
            audited(&db, settings, "apikey.revoke", revoked.name.clone(), format!("role {}", revoked.role)).await?;
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
            audited(&db, settings, "user.create", user.name.clone(), format!("role {}", user.role)).await?;
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
            audited(&db, settings, "user.password", user.name.clone(), "password changed; sessions ended".into())
                .await?;
            println!("set a new password for '{}'; their sessions have ended", user.name);
        }
    }
    Ok(())
}
