//! The account's concurrent-call capacity (the agent plan's limit), shared by every
//! campaign: how many calls one campaign may start now without taking another campaign's
//! fair share.

/// A campaign's use of and claim on the account's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// Contacts being dialled or on a call.
    pub in_progress: i64,
    /// Contacts due now (counting stops at the fair share: more does not change the
    /// answer).
    pub due: i64,
}

/// Campaigns with calls in progress or contacts due share the account's `limit`: each has
/// a fair share (`limit / n`, at least 1), and a campaign below its share keeps the slots
/// it could use (up to its due contacts) reserved from the others. `me` may start as many
/// calls as are free after the calls already running (`others_in_progress` counts every
/// other call: other campaigns', paused ones', and calls placed on their own) and after
/// those reservations. Unused shares are not wasted: with nobody else waiting, one
/// campaign may use the whole account.
pub fn account_grant(limit: i64, me: Demand, others: &[Demand], others_in_progress: i64) -> i64 {
    let competing = 1 + others
        .iter()
        .filter(|d| d.in_progress > 0 || d.due > 0)
        .count() as i64;
    let share = (limit / competing).max(1);
    let reserved: i64 = others
        .iter()
        .map(|d| (share - d.in_progress).max(0).min(d.due))
        .sum();
    let free = limit - me.in_progress - others_in_progress;
    (free - reserved).max(0)
}

/// How many due contacts of another campaign matter to [`account_grant`]: counting can
/// stop here.
pub fn due_count_cap(limit: i64) -> i64 {
    limit.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(in_progress: i64, due: i64) -> Demand {
        Demand { in_progress, due }
    }

    #[test]
    fn one_campaign_alone_may_use_the_whole_account() {
        assert_eq!(account_grant(5, d(0, 100), &[], 0), 5);
        assert_eq!(account_grant(5, d(3, 100), &[d(0, 0)], 0), 2);
    }

    #[test]
    fn a_waiting_campaign_keeps_its_fair_share_from_a_busy_one() {
        // Two campaigns, limit 5: share 2. B waits with nothing running: 2 are kept for it.
        assert_eq!(account_grant(5, d(0, 100), &[d(0, 100)], 0), 3);
        // A holds 3 already; B has 2: nothing is free.
        assert_eq!(account_grant(5, d(3, 100), &[d(2, 100)], 2), 0);
        // B needs only one: A may take the other.
        assert_eq!(account_grant(5, d(0, 100), &[d(0, 1)], 0), 4);
    }

    #[test]
    fn calls_of_paused_campaigns_and_single_calls_take_capacity_too() {
        assert_eq!(account_grant(5, d(0, 10), &[], 4), 1);
        assert_eq!(account_grant(5, d(0, 10), &[], 7), 0, "never negative");
    }

    #[test]
    fn more_campaigns_than_slots_each_get_one_in_turn() {
        let others = [d(1, 5), d(1, 5), d(0, 5)];
        // limit 3, four competing: share 1; the third other is owed its one slot.
        assert_eq!(account_grant(3, d(0, 5), &others, 2), 0);
        assert_eq!(account_grant(3, d(0, 5), &others[..2], 2), 1);
    }
}
