//! Test data shared by the benchmarks: a synthetic FOCUS file.
#![allow(dead_code)] // each benchmark uses its own part

pub mod server;

use std::io::{BufWriter, Write};
use std::path::Path;

/// Rows per hour that [`generate`] writes.
pub const ROWS_PER_HOUR: u64 = 2_000;

pub const COLUMNS: &str = "AvailabilityZone,BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountCategory,CommitmentDiscountId,CommitmentDiscountName,CommitmentDiscountStatus,CommitmentDiscountType,ConsumedQuantity,ConsumedUnit,ContractedCost,ContractedUnitPrice,EffectiveCost,InvoiceIssuerName,ListCost,ListUnitPrice,PricingCategory,PricingQuantity,PricingUnit,ProviderName,PublisherName,RegionId,RegionName,ResourceId,ResourceName,ResourceType,ServiceCategory,ServiceName,SkuId,SkuPriceId,SubAccountId,SubAccountName,Tags";

pub const SERVICES: [(&str, &str); 6] = [
    ("Amazon Elastic Compute Cloud", "Compute"),
    ("Amazon Simple Storage Service", "Storage"),
    ("Amazon Relational Database Service", "Databases"),
    ("AWS Lambda", "Compute"),
    ("Amazon CloudFront", "Networking"),
    ("Amazon DynamoDB", "Databases"),
];

/// Writes `rows` FOCUS line items, 2,000 per hour from `base`: one AWS account family, six
/// services, 13 sub-accounts, 97 SKUs and a `team` tag with five values.
pub fn generate(path: &Path, rows: u64, base: chrono::NaiveDateTime) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "{COLUMNS}")?;
    for i in 0..rows {
        // 2,000 line items per hour; hours run on from 1 November.
        let start = base + chrono::Duration::hours((i / ROWS_PER_HOUR) as i64);
        let (start, end) =
            (start.format("%Y-%m-%d %H:%M:%S"), (start + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S"));
        let (service, category) = SERVICES[(i % 6) as usize];
        let cost = format!("{}.{:011}", i % 7, (i * 7_919) % 100_000_000_000);
        writeln!(
            out,
            "NULL,{cost},1234567890123,Bench Co,USD,2027-01-01 00:00:00,2026-11-01 00:00:00,Usage,NULL,\"{service} usage\",Usage-Based,{end},{start},NULL,NULL,NULL,NULL,NULL,1.000000000000000,Hrs,{cost},0.1,{cost},\"Amazon Web Services, Inc.\",{cost},0.1,Standard,1.00000000000,Hrs,AWS,\"Amazon Web Services, Inc.\",us-east-1,US East (N. Virginia),arn:aws:ec2:us-east-1:1:instance/i-{:08x},res-{},Instance,{category},{service},SKU{},SKU{}.PRICE,{},acct-{},\"{{\"\"team\"\": \"\"t{}\"\"}}\"",
            i % 2_000,
            i % 2_000,
            i % 97,
            i % 97,
            210_000_000_000u64 + i % 13,
            i % 13,
            i % 5
        )?;
    }
    out.flush()
}
