//! Calendar arithmetic for headers: RFC 5322 `Date:` values and mbox `From ` line stamps.

/// 2015-01-01T00:00:00Z: the corpus spans ten years from here.
pub(crate) const START: i64 = 1_420_070_400;
/// Ten years in seconds (2015-01-01 to 2025-01-01).
pub(crate) const SPAN: i64 = 3653 * 86_400;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Broken-down time: (year, month 1-12, day, hour, minute, second, weekday name).
struct Civil {
    year: i64,
    month: usize,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    weekday: &'static str,
}

fn civil(t: i64) -> Civil {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: month as usize,
        day,
        hour: secs / 3600,
        min: secs / 60 % 60,
        sec: secs % 60,
        weekday: DAYS[days.rem_euclid(7) as usize],
    }
}

pub(crate) fn year(t: i64) -> i64 {
    civil(t).year
}

/// Month 1-12 (UTC).
pub(crate) fn month(t: i64) -> usize {
    civil(t).month
}

/// RFC 5322 date-time at UTC offset `offset_min`: `Thu, 1 Jan 2015 01:00:00 +0100`.
pub(crate) fn rfc5322(t: i64, offset_min: i32) -> String {
    let c = civil(t + i64::from(offset_min) * 60);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let off = offset_min.unsigned_abs();
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} {}{:02}{:02}",
        c.weekday,
        c.day,
        MONTHS[c.month - 1],
        c.year,
        c.hour,
        c.min,
        c.sec,
        sign,
        off / 60,
        off % 60
    )
}

/// asctime-style UTC stamp for mbox `From ` lines: `Thu Jan  1 00:00:00 2015`.
pub(crate) fn asctime(t: i64) -> String {
    let c = civil(t);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        c.weekday,
        MONTHS[c.month - 1],
        c.day,
        c.hour,
        c.min,
        c.sec,
        c.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(asctime(START), "Thu Jan  1 00:00:00 2015");
        assert_eq!(rfc5322(START, 60), "Thu, 1 Jan 2015 01:00:00 +0100");
        assert_eq!(rfc5322(START, -330), "Wed, 31 Dec 2014 18:30:00 -0530");
        assert_eq!(rfc5322(1_709_210_096, 0), "Thu, 29 Feb 2024 12:34:56 +0000");
        assert_eq!(year(START + SPAN), 2025);
    }
}
