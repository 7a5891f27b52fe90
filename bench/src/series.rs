//! What a soak samples every ten seconds: one series per figure, its
//! sparkline, and the check that it stayed flat.

use crate::median;

/// Samples in a minute, at one every ten seconds.
pub const MINUTE: usize = 6;

/// How far a series may grow from its first minute to its last: the last
/// minute's median may be at most `first × ratio + plus`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Margin {
    pub ratio: f64,
    pub plus: f64,
}

impl Margin {
    pub fn describe(self) -> String {
        match (self.ratio == 1.0, self.plus == 0.0) {
            (true, _) => format!("+{}", self.plus),
            (false, true) => format!("+{:.0} %", (self.ratio - 1.0) * 100.0),
            (false, false) => format!("+{:.0} % +{}", (self.ratio - 1.0) * 100.0, self.plus),
        }
    }
}

pub struct Series {
    pub server: String,
    pub name: String,
    /// The first sample is taken as the load starts, then one every ten seconds.
    pub values: Vec<f64>,
    /// `None` for series that are reported, not checked (requests per second).
    pub margin: Option<Margin>,
}

/// The medians of the first and last minutes, and the extremes.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub start: f64,
    pub end: f64,
    pub min: f64,
    pub max: f64,
    pub first_minute: f64,
    pub last_minute: f64,
}

impl Series {
    pub fn new(server: &str, name: &str, margin: Option<Margin>) -> Self {
        Self {
            server: server.to_owned(),
            name: name.to_owned(),
            values: Vec::new(),
            margin,
        }
    }

    pub fn summary(&self) -> Summary {
        let v = &self.values;
        // The first minute leaves out the sample taken before any load.
        let first = &v[1.min(v.len())..(1 + MINUTE).min(v.len())];
        let last = &v[v.len().saturating_sub(MINUTE)..];
        Summary {
            start: v.first().copied().unwrap_or(f64::NAN),
            end: v.last().copied().unwrap_or(f64::NAN),
            min: v.iter().copied().fold(f64::NAN, f64::min),
            max: v.iter().copied().fold(f64::NAN, f64::max),
            first_minute: median(first.to_vec()),
            last_minute: median(last.to_vec()),
        }
    }

    /// Whether the last minute stayed within the margin of the first (always, unchecked).
    pub fn flat(&self) -> bool {
        let s = self.summary();
        self.margin
            .is_none_or(|m| s.last_minute <= s.first_minute * m.ratio + m.plus)
    }
}

/// One bar per value, its height proportional to the value from zero to the
/// series' largest, so that a flat series reads flat whatever its noise.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().fold(0.0, f64::max);
    values
        .iter()
        .map(|&v| {
            if max <= 0.0 || v.is_nan() {
                return BARS[0];
            }
            let level = (v.max(0.0) / max * 8.0).ceil() as usize;
            BARS[level.clamp(1, 8) - 1]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64], margin: Margin) -> Series {
        let mut s = Series::new("server", "figure", Some(margin));
        s.values = values.to_vec();
        s
    }

    const RSS: Margin = Margin { ratio: 1.2, plus: 0.0 };
    const FDS: Margin = Margin { ratio: 1.0, plus: 10.0 };

    #[test]
    fn sparklines_are_scaled_from_zero_to_the_largest_value() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0, 8.0]), "▁▁▂▄█");
        assert_eq!(sparkline(&[10.0, 10.0, 10.0]), "███");
        assert_eq!(sparkline(&[100.0, 101.0]), "██");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn a_summary_leaves_the_sample_before_the_load_out_of_the_first_minute() {
        // Start, six samples of the first minute, two more, then the last minute's six.
        let mut values = vec![1.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 50.0, 0.5];
        values.extend([20.0, 21.0, 22.0, 23.0, 24.0, 25.0]);
        let s = series(&values, RSS).summary();
        assert_eq!(
            s,
            Summary {
                start: 1.0,
                end: 25.0,
                min: 0.5,
                max: 50.0,
                first_minute: 12.5,
                last_minute: 22.5,
            }
        );
    }

    #[test]
    fn growth_within_the_margin_is_flat_and_beyond_it_is_not() {
        let mut values = vec![5.0; 7];
        values.extend([6.0; 6]);
        assert!(series(&values, RSS).flat(), "+20 % exactly");
        values.extend([6.1; 6]);
        assert!(!series(&values, RSS).flat(), "+22 %");

        let mut fds = vec![20.0; 7];
        fds.extend([30.0; 6]);
        assert!(series(&fds, FDS).flat());
        fds.extend([31.0; 6]);
        assert!(!series(&fds, FDS).flat());
        // Shrinking, and a spike in the middle, are flat.
        let spike = [
            20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 900.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0,
        ];
        assert!(series(&spike, FDS).flat());
    }

    #[test]
    fn unchecked_series_are_always_flat() {
        let mut s = Series::new("server", "requests/s", None);
        s.values = vec![1.0, 1.0, 1000.0];
        assert!(s.flat());
    }

    #[test]
    fn margins_read_as_written() {
        assert_eq!(RSS.describe(), "+20 %");
        assert_eq!(FDS.describe(), "+10");
        assert_eq!(Margin { ratio: 1.1, plus: 2.0 }.describe(), "+10 % +2");
    }
}
