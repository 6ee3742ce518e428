//! bitly's `timer_metrics`, as nsq_to_http and nsq_to_nsq print their
//! status: every `status_every` results, one line with the 99th and 95th
//! percentile and the mean of the last `status_every` durations.

use std::time::Duration;

#[derive(Debug)]
pub struct TimerMetrics {
    prefix: String,
    status_every: usize,
    timings: Vec<Duration>,
    position: usize,
}

impl TimerMetrics {
    pub fn new(status_every: usize, prefix: &str) -> Self {
        TimerMetrics {
            prefix: prefix.to_string(),
            status_every,
            timings: Vec::with_capacity(status_every),
            position: 0,
        }
    }

    /// Records one duration; returns the status line when one is due.
    pub fn status(&mut self, d: Duration) -> Option<String> {
        if self.status_every == 0 {
            return None;
        }
        self.position += 1;
        let looped = self.position > self.status_every;
        if looped {
            self.position = 1;
        }
        if self.position > self.timings.len() {
            self.timings.push(d);
        } else {
            self.timings[self.position - 1] = d;
        }
        looped.then(|| self.line())
    }

    fn line(&self) -> String {
        let mut sorted = self.timings.clone();
        sorted.sort();
        let total: Duration = sorted.iter().sum();
        let avg = if sorted.is_empty() {
            Duration::ZERO
        } else {
            total / sorted.len() as u32
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} finished {} - 99th: {:.02}ms - 95th: {:.02}ms - avg: {:.02}ms",
            self.prefix,
            sorted.len(),
            ms(percentile(99.0, &sorted)),
            ms(percentile(95.0, &sorted)),
            ms(avg)
        )
    }
}

fn percentile(perc: f64, sorted: &[Duration]) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((perc / 100.0) * sorted.len() as f64 + 0.5).ceil() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_every_n_after_the_window_fills() {
        let mut m = TimerMetrics::new(4, "[aggregate]:");
        for i in 1..=4 {
            assert_eq!(m.status(Duration::from_millis(i)), None);
        }
        let line = m.status(Duration::from_millis(10)).unwrap();
        assert_eq!(
            line,
            "[aggregate]: finished 4 - 99th: 10.00ms - 95th: 10.00ms - avg: 4.75ms"
        );
        assert_eq!(TimerMetrics::new(0, "").status(Duration::ZERO), None);
    }
}
