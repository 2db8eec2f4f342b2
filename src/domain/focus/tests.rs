//! Parsing, normalising and identifying FOCUS rows.

use super::*;

pub(crate) fn sample_row() -> BTreeMap<String, String> {
    [
        ("BilledCost", "0.00001605990"),
        ("EffectiveCost", "0.00001605990"),
        ("BillingAccountId", "1234567890123"),
        ("BillingCurrency", "USD"),
        ("BillingPeriodStart", "2024-09-01 00:00:00"),
        ("BillingPeriodEnd", "2024-10-01 00:00:00"),
        ("ChargeCategory", "Usage"),
        ("ChargeFrequency", "Usage-based"),
        ("ChargePeriodStart", "2024-09-30 22:00:00"),
        ("ChargePeriodEnd", "2024-09-30 23:00:00"),
        ("ProviderName", "AWS"),
        ("ServiceName", "Elastic Load Balancing"),
        ("ConsumedQuantity", "0.002007490000000"),
        ("ChargeClass", "NULL"),
        ("Tags", r#"{"b": "2", "a": "1"}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn parses_a_focus_row_and_normalizes_values() {
    let rec = CostRecord::parse(&sample_row()).unwrap();
    assert_eq!(rec.billed_cost.units(), 1_605_990);
    assert_eq!(rec.charge_frequency.as_deref(), Some("Usage-Based"));
    assert_eq!(rec.charge_class, None);
    assert_eq!(rec.tags.to_json(), r#"{"a":"1","b":"2"}"#);
    assert_eq!(rec.consumed_quantity.unwrap().as_str(), "0.002007490000000");
}

#[test]
fn reports_the_bad_column() {
    let cases = [
        ("BilledCost", "12,5"),
        ("BillingCurrency", "dollars"),
        ("ChargePeriodStart", "yesterday"),
        ("ChargeCategory", "Misc"),
        ("Tags", "[1,2]"),
        ("ServiceName", "NULL"),
        ("ChargePeriodEnd", "2024-09-30 21:00:00"),
    ];
    for (column, value) in cases {
        let mut row = sample_row();
        row.insert(column.to_string(), value.to_string());
        let err = CostRecord::parse(&row).unwrap_err();
        assert_eq!(err.column, column, "{value}");
    }
}

#[test]
fn identity_ignores_amounts_but_not_dimensions() {
    let base = CostRecord::parse(&sample_row()).unwrap();
    let mut restated = base.clone();
    restated.billed_cost = Amount::from_units(42);
    assert_eq!(base.key(), restated.key());
    assert_ne!(base.content_hash(), restated.content_hash());
    let mut other = base.clone();
    other.resource_id = Some("i-1".into());
    assert_ne!(base.key(), other.key());
}
