//! What a replay changes in the stored anomalies of one series. Pure, so the matching rules
//! are unit-tested without a database.

use super::replay::Found;
use crate::domain::detect::incident::Direction;

/// The stored facts the matching needs about an existing detected anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: String,
    pub direction: Direction,
    pub open: bool,
    pub started_at: i64,
    /// Its end as stored: resolution time, or None while open.
    pub resolved_at: Option<i64>,
    /// Its stored actual cost, in ledger units.
    pub actual: i128,
    pub points: u32,
    pub severity: crate::domain::detect::decision::Severity,
    /// An action on it was verified: it resolves as soon as its cost is back in its band.
    pub mitigated: bool,
    /// An action on it is approved, executing or verifying: its outcome comes first, so the
    /// anomaly stays open until then (the on-call hears "cancelled, checked" before
    /// "resolved", and a failed action leaves an anomaly that is still open to act on).
    pub acting: bool,
    /// A person closed it (expected, false positive): the detector does not reopen it.
    pub closed_by_person: bool,
    /// Measured only on an unconfirmed running rate.
    pub provisional: bool,
}

impl Stored {
    /// Whether a re-measurement changes the cost picture (then root causes are recomputed).
    pub fn differs(&self, found: &Found) -> bool {
        self.actual != found.actual.units() || self.resolved_at != found.resolved_at
    }

    /// Whether a re-measurement changes anything stored at all.
    pub fn changed_by(&self, found: &Found) -> bool {
        // Severity only ever rises within one anomaly (the store keeps the peak).
        self.differs(found)
            || self.points != found.points
            || self.severity < found.severity
            || self.provisional != found.provisional
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new incident (already resolved when it lies in the past).
    Insert(Found),
    /// An existing anomaly, re-measured.
    Update { id: String, found: Found },
    /// An open anomaly the replay no longer sees (its data was restated).
    Vanished { id: String },
}

/// Match each found incident to a stored anomaly of the same direction whose span overlaps;
/// unmatched ones are new. Open stored anomalies that started after `trusted_from` (where the
/// replay's baseline is warm) and match nothing have vanished.
///
/// A mitigated anomaly (its action verified) does not wait for the detector's run of calm
/// points: it resolves at `calm_at`, the newest point when that one is back within the band,
/// and stays resolved while the replay's incident winds down. An anomaly with an action under
/// way neither resolves nor vanishes until the action has ended.
pub fn plan(stored: &[Stored], found: Vec<Found>, trusted_from: i64, calm_at: Option<i64>) -> Vec<Change> {
    let mut used = vec![false; stored.len()];
    let mut changes = Vec::new();
    for mut f in found {
        let f_end = f.resolved_at.unwrap_or(i64::MAX);
        let matched = stored.iter().enumerate().find(|(i, s)| {
            !used[*i]
                && s.direction == f.direction
                && s.started_at <= f_end
                && f.started_at <= s.resolved_at.unwrap_or(i64::MAX)
        });
        match matched {
            Some((i, s)) => {
                used[i] = true;
                // Resolved by mitigation or closed by a person: it stays resolved while the
                // replay's incident winds down.
                if (s.mitigated || s.closed_by_person) && !s.open && f.resolved_at.is_none() {
                    f.resolved_at = s.resolved_at;
                }
                if s.mitigated && s.open && f.resolved_at.is_none() {
                    f.resolved_at = calm_at.filter(|t| *t >= s.started_at);
                }
                if s.acting && s.open {
                    f.resolved_at = None;
                }
                if s.changed_by(&f) {
                    changes.push(Change::Update { id: s.id.clone(), found: f });
                }
            }
            None => changes.push(Change::Insert(f)),
        }
    }
    for (i, s) in stored.iter().enumerate() {
        if !used[i] && s.open && !s.acting && s.started_at >= trusted_from {
            changes.push(Change::Vanished { id: s.id.clone() });
        }
    }
    changes
}

/// Keeps open a provisional anomaly (judged on a running point's rate) that the replay no
/// longer sees while the series' point turns: the point it was judged on has just ended
/// holding only the incident's first seconds, under the floors, and the new point is too
/// young for its rate to show anything. A loop that began at 01:59:40 was otherwise
/// announced, resolved as "no longer seen" at 02:00:00 and reopened two seconds later. Past
/// the turn, a false alarm still vanishes.
pub fn while_the_point_turns(changes: Vec<Change>, stored: &[Stored]) -> Vec<Change> {
    changes
        .into_iter()
        .filter(|c| match c {
            Change::Vanished { id } => !stored.iter().any(|s| &s.id == id && s.provisional),
            _ => true,
        })
        .collect()
}

/// Whether `now` is in the turn of a series' points: within the first twelfth of a step of
/// its newest point (`partial::read` measures no rate over less), or of the step after it
/// when the next point has no data yet.
pub fn point_turning(newest_at: i64, step: i64, now: i64) -> bool {
    let since = now - newest_at;
    step > 0 && (0..2 * step).contains(&since) && since % step < step / 12
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::detect::decision::Severity;
    use crate::domain::money::Total;

    fn found(start: i64, end: Option<i64>) -> Found {
        Found {
            direction: Direction::Up,
            started_at: start,
            last_out_at: start,
            resolved_at: end,
            points: 1,
            actual: Total::ZERO,
            expected: Total::ZERO,
            projected_daily: Total::ZERO,
            severity: Severity::Low,
            peak_z: 0.0,
            provisional: false,
        }
    }

    fn stored(id: &str, start: i64, end: Option<i64>) -> Stored {
        Stored {
            id: id.into(),
            direction: Direction::Up,
            open: end.is_none(),
            started_at: start,
            resolved_at: end,
            actual: 1,
            points: 1,
            severity: Severity::Low,
            mitigated: false,
            acting: false,
            closed_by_person: false,
            provisional: false,
        }
    }

    #[test]
    fn a_mitigated_anomaly_resolves_once_its_newest_point_is_calm_and_stays_resolved() {
        let mitigated = Stored { mitigated: true, ..stored("a", 100, None) };
        let same = || Found { actual: Total::from_units(1), ..found(100, None) };
        let open = plan(std::slice::from_ref(&mitigated), vec![same()], 0, None);
        assert!(open.is_empty(), "still out of band: still open, nothing changed");
        let calm = plan(std::slice::from_ref(&mitigated), vec![same()], 0, Some(400));
        assert!(matches!(&calm[..], [Change::Update { found, .. }] if found.resolved_at == Some(400)));
        // Next run: the detector's own incident still runs, the anomaly stays resolved.
        let resolved = Stored { open: false, resolved_at: Some(400), ..mitigated.clone() };
        assert!(plan(&[resolved], vec![same()], 0, None).is_empty());
        // Closed by a person (expected, false positive): the replay does not reopen it.
        let closed = Stored { open: false, resolved_at: Some(300), closed_by_person: true, ..stored("c", 100, None) };
        assert!(plan(&[closed], vec![same()], 0, None).is_empty());
        // Without mitigation the detector decides.
        assert!(plan(&[stored("b", 100, None)], vec![same()], 0, Some(400)).is_empty());
    }

    #[test]
    fn an_anomaly_with_an_action_under_way_waits_for_the_action_before_it_resolves_or_vanishes() {
        let acting = Stored { acting: true, ..stored("a", 100, None) };
        // The detector sees the cost back in its band and ends its incident: the anomaly stays
        // open (re-measured, but not resolved) while the executor still acts or checks.
        let changes = plan(std::slice::from_ref(&acting), vec![found(100, Some(300))], 0, Some(300));
        assert!(matches!(&changes[..], [Change::Update { found, .. }] if found.resolved_at.is_none()), "{changes:?}");
        // Restated data no longer shows it: it does not vanish under the executor either.
        assert!(plan(std::slice::from_ref(&acting), vec![], 0, None).is_empty());
        // Once the action has ended, the detector decides again.
        let ended = Stored { acting: false, ..acting };
        let changes = plan(std::slice::from_ref(&ended), vec![found(100, Some(300))], 0, None);
        assert!(matches!(&changes[..], [Change::Update { found, .. }] if found.resolved_at == Some(300)));
        assert_eq!(plan(&[ended], vec![], 0, None), vec![Change::Vanished { id: "a".into() }]);
    }

    #[test]
    fn a_provisional_anomaly_outlives_the_turn_of_its_point() {
        let provisional = Stored { provisional: true, ..stored("p", 3_600, None) };
        let confirmed = stored("c", 3_600, None);
        let both = [provisional.clone(), confirmed];
        let changes = plan(&both, vec![], 0, None);
        assert_eq!(while_the_point_turns(changes, &both), vec![Change::Vanished { id: "c".into() }]);
        // The turn: the first five minutes of an hourly point, or of the next one before it has data.
        let h = 3_600;
        assert!(point_turning(10 * h, h, 10 * h + 2));
        assert!(!point_turning(10 * h, h, 10 * h + 300), "five minutes in, the rate speaks");
        assert!(point_turning(10 * h, h, 11 * h + 20), "the next hour has no point yet");
        assert!(!point_turning(10 * h, h, 12 * h + 20), "two hours without data is no turn");
        assert!(!point_turning(10 * h, 0, 10 * h));
    }

    #[test]
    fn a_replay_of_the_same_incident_updates_it() {
        let changes = plan(&[stored("a", 100, None)], vec![found(100, None)], 0, None);
        assert!(matches!(&changes[..], [Change::Update { id, .. }] if id == "a"));
    }

    #[test]
    fn a_slightly_shifted_start_still_matches_by_overlap() {
        let changes = plan(&[stored("a", 100, Some(200))], vec![found(90, Some(150))], 0, None);
        assert!(matches!(&changes[..], [Change::Update { id, .. }] if id == "a"));
    }

    #[test]
    fn an_unchanged_re_measurement_is_no_change() {
        let mut same = found(100, None);
        same.actual = Total::from_units(1);
        assert_eq!(plan(&[stored("a", 100, None)], vec![same], 0, None), vec![]);
    }

    #[test]
    fn a_later_incident_is_new_and_an_earlier_resolved_one_is_left_alone() {
        let changes = plan(&[stored("a", 100, Some(200))], vec![found(300, None)], 0, None);
        assert!(matches!(&changes[..], [Change::Insert(f)] if f.started_at == 300));
    }

    #[test]
    fn an_open_anomaly_the_replay_no_longer_sees_vanishes_only_where_the_replay_is_trusted() {
        let s = [stored("old", 50, None), stored("new", 500, None)];
        let changes = plan(&s, vec![], 100, None);
        assert_eq!(changes, vec![Change::Vanished { id: "new".into() }]);
    }

    #[test]
    fn directions_do_not_match_each_other() {
        let mut down = stored("d", 100, None);
        down.direction = Direction::Down;
        let changes = plan(&[down], vec![found(100, None)], 1_000, None);
        assert!(matches!(&changes[..], [Change::Insert(_)]));
    }

    #[test]
    fn one_stored_anomaly_absorbs_only_one_incident() {
        let changes = plan(&[stored("a", 0, None)], vec![found(10, Some(20)), found(30, None)], 0, None);
        assert!(matches!(&changes[0], Change::Update { .. }));
        assert!(matches!(&changes[1], Change::Insert(_)));
    }
}
