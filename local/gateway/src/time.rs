//! The few date formats AWS events and logs use, in UTC, with the `time` crate.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// `2026/11/21`, as in Lambda log stream names.
const YMD_SLASH: &[BorrowedFormatItem<'_>] = format_description!("[year]/[month]/[day]");
/// `21/Nov/2026:23:44:11 +0000`: API Gateway's `requestContext.time`.
const APIGW: &[BorrowedFormatItem<'_>] = format_description!(
    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);
/// `Jan 1, 1970, 12:33:41 AM`: how the Amazon MQ event source mapping prints an AMQP timestamp.
const RMQ: &[BorrowedFormatItem<'_>] = format_description!(
    "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
);

/// `2019-08-14T22:26:11.234+0000`: a function's `LastModified` in the Lambda API.
const LAMBDA: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

fn utc(epoch_secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(epoch_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn format(t: OffsetDateTime, items: &[BorrowedFormatItem<'_>]) -> String {
    // Formatting a UTC date with years 0..=9999 into a String cannot fail.
    t.format(items).unwrap_or_default()
}

/// `2026/11/21`, as in Lambda log stream names.
pub fn ymd_slash(t: SystemTime) -> String {
    format(OffsetDateTime::from(t), YMD_SLASH)
}

/// `2019-08-14T22:26:11.234+0000`: a function's `LastModified` in the Lambda API.
pub fn lambda_timestamp(t: SystemTime) -> String {
    format(OffsetDateTime::from(t), LAMBDA)
}

/// `21/Nov/2026:23:44:11 +0000`: API Gateway's `requestContext.time`.
pub fn apigw_time(epoch_secs: i64) -> String {
    format(utc(epoch_secs), APIGW)
}

/// `Jan 1, 1970, 12:33:41 AM`: how the Amazon MQ event source mapping prints an AMQP timestamp.
pub fn rmq_timestamp(epoch_secs: i64) -> String {
    format(utc(epoch_secs), RMQ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_match_aws() {
        // The sample RabbitMQ event: https://docs.aws.amazon.com/lambda/latest/dg/with-mq.html
        assert_eq!(rmq_timestamp(2021), "Jan 1, 1970, 12:33:41 AM");
        // The sample payload 2.0 has `timeEpoch` 1583348638390 (its `time` says 12/Mar, but that
        // instant is 2020-03-04T19:03:58Z; the format is CLF, dd/MMM/yyyy:HH:mm:ss +hhmm):
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
        assert_eq!(apigw_time(1_583_348_638), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(rmq_timestamp(1_583_348_638), "Mar 4, 2020, 7:03:58 PM");
        assert_eq!(
            rmq_timestamp(1_583_323_438),
            "Mar 4, 2020, 12:03:58 PM",
            "noon is 12 PM"
        );
        // FunctionConfiguration's LastModified: "YYYY-MM-DDThh:mm:ss.sTZD"
        // (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).
        assert_eq!(
            lambda_timestamp(UNIX_EPOCH + Duration::from_millis(1_565_821_571_234)),
            "2019-08-14T22:26:11.234+0000"
        );
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(ymd_slash(leap_day), "2000/02/29");
        assert_eq!(ymd_slash(UNIX_EPOCH), "1970/01/01");
    }
}
