//! Frame timing for GIF, whose delays are whole centiseconds.

/// Delays, in centiseconds, for `frame_count` frames at `fps`, spread so that frame `i` ends at
/// exactly `round((i + 1) * 100 / fps)` cs: the total is exact to the centisecond and no delay is
/// off by more than one (30 fps gives 3, 4, 3, 3, 4, 3, … and 150 frames last 500 cs).
///
/// `fps` must be at least 1; above 100 some delays would be 0 cs, so callers cap it there.
pub fn gif_delays_cs(frame_count: usize, fps: u32) -> Vec<u16> {
    let fps = u64::from(fps.max(1));
    let end = |frames: u64| (frames * 200 + fps) / (2 * fps);
    (0..frame_count as u64)
        .map(|i| u16::try_from(end(i + 1) - end(i)).unwrap_or(u16::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(delays: &[u16]) -> u32 {
        delays.iter().map(|&d| u32::from(d)).sum()
    }

    #[test]
    fn thirty_fps_alternates_three_and_four_and_totals_exactly() {
        let delays = gif_delays_cs(150, 30);
        assert_eq!(total(&delays), 500);
        assert_eq!(&delays[..6], &[3, 4, 3, 3, 4, 3]);
        assert!(delays.iter().all(|&d| d == 3 || d == 4));
    }

    #[test]
    fn every_prefix_ends_within_half_a_centisecond_of_real_time() {
        for fps in [1, 7, 12, 24, 25, 30, 60, 100] {
            let delays = gif_delays_cs(97, fps);
            let mut elapsed = 0u32;
            for (i, &d) in delays.iter().enumerate() {
                elapsed += u32::from(d);
                let exact = (i as f64 + 1.0) * 100.0 / f64::from(fps);
                assert!(
                    (f64::from(elapsed) - exact).abs() <= 0.5,
                    "fps {fps} frame {i}"
                );
            }
        }
    }

    #[test]
    fn rates_that_divide_a_hundred_give_equal_delays() {
        assert_eq!(gif_delays_cs(4, 25), vec![4, 4, 4, 4]);
        assert_eq!(gif_delays_cs(3, 1), vec![100, 100, 100]);
        assert_eq!(gif_delays_cs(2, 100), vec![1, 1]);
    }
}
