//! The few date formats AWS events use, in UTC, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// UTC calendar fields of a Unix time (Howard Hinnant's days-from-civil inverse).
pub fn civil(epoch_secs: i64) -> Civil {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: ((secs % 3600) / 60) as u32,
        second: (secs % 60) as u32,
    }
}

fn epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026/11/21`, as in Lambda log stream names.
pub fn ymd_slash(t: SystemTime) -> String {
    let c = civil(epoch(t));
    format!("{:04}/{:02}/{:02}", c.year, c.month, c.day)
}

/// `21/Nov/2026:23:44:11 +0000`: API Gateway's `requestContext.time`.
pub fn apigw_time(epoch_secs: i64) -> String {
    let c = civil(epoch_secs);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// `Jan 1, 1970, 12:33:41 AM`: how the Amazon MQ event source mapping prints an AMQP timestamp.
pub fn rmq_timestamp(epoch_secs: i64) -> String {
    let c = civil(epoch_secs);
    let (h12, ampm) = match c.hour {
        0 => (12, "AM"),
        1..=11 => (c.hour, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year,
        h12,
        c.minute,
        c.second,
        ampm
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_aws() {
        assert_eq!(rmq_timestamp(2021), "Jan 1, 1970, 12:33:41 AM");
        assert_eq!(apigw_time(1_583_348_638), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(rmq_timestamp(1_583_348_638), "Mar 4, 2020, 7:03:58 PM");
        assert_eq!(civil(951_782_400).day, 29, "2000-02-29 is a leap day");
    }
}
