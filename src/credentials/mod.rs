//! Provider credentials entered in the dashboard: encrypted at rest (see [`cipher`]),
//! write-only (pages learn only whether a field is set, when and by whom), never logged.
//! Adapters read them with [`reveal`].

pub mod cipher;

pub use cipher::{Cipher, KeyError};

use crate::db::schema::credentials as cr;
use crate::db::{Db, DbConn, DbError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use secrecy::SecretString;

fn associated(provider: &str, field: &str) -> String {
    format!("{provider}\0{field}")
}

/// Whether a field holds a value; never the value.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct FieldStatus {
    pub field: String,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// Stores (or replaces) one field's value, encrypted.
pub fn set(
    conn: &mut DbConn,
    cipher: &Cipher,
    provider: &str,
    field: &str,
    value: &str,
    by: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let (nonce, ciphertext) = cipher.seal(value, &associated(provider, field))?;
    let n = now.naive_utc();
    let values = (
        cr::provider.eq(provider),
        cr::field.eq(field),
        cr::nonce.eq(&nonce),
        cr::ciphertext.eq(&ciphertext),
        cr::updated_at.eq(n),
        cr::updated_by.eq(by),
    );
    let changes = (cr::nonce.eq(&nonce), cr::ciphertext.eq(&ciphertext), cr::updated_at.eq(n), cr::updated_by.eq(by));
    crate::per_backend!(conn, |c| {
        diesel::insert_into(cr::table)
            .values(values)
            .on_conflict((cr::provider, cr::field))
            .do_update()
            .set(changes)
            .execute(c)
    })?;
    Ok(())
}

pub fn clear(conn: &mut DbConn, provider: &str, field: &str) -> QueryResult<usize> {
    diesel::delete(cr::table.find((provider, field))).execute(conn)
}

pub fn status(conn: &mut DbConn, provider: &str) -> QueryResult<Vec<FieldStatus>> {
    cr::table
        .filter(cr::provider.eq(provider))
        .order(cr::field)
        .select((cr::field, cr::updated_at, cr::updated_by))
        .load(conn)
}

/// The decrypted value of one field, for an adapter to use.
pub fn reveal(conn: &mut DbConn, cipher: &Cipher, provider: &str, field: &str) -> anyhow::Result<Option<SecretString>> {
    let row: Option<(String, String)> =
        cr::table.find((provider, field)).select((cr::nonce, cr::ciphertext)).first(conn).optional()?;
    row.map(|(nonce, ct)| cipher.open(&nonce, &ct, &associated(provider, field)).map(SecretString::from)).transpose()
}

/// Reads fields from the encrypted store at the moment they are needed (a cloud client being
/// built, a notification being sent), so a value changed in the dashboard applies next time.
#[derive(Clone, Debug)]
pub struct Vault {
    db: Db,
    cipher: Cipher,
}

impl Vault {
    pub fn new(db: Db, cipher: Cipher) -> Self {
        Vault { db, cipher }
    }

    /// The decrypted value of `owner`'s `field` (a provider's, or `notify:<destination>`'s).
    pub async fn field(&self, owner: &str, field: &str) -> anyhow::Result<Option<SecretString>> {
        let (cipher, owner, field) = (self.cipher.clone(), owner.to_string(), field.to_string());
        self.db
            .run(move |c| reveal(c, &cipher, &owner, &field).map_err(|e| DbError::Other(format!("{e:#}"))))
            .await
            .map_err(anyhow::Error::from)
    }
}
