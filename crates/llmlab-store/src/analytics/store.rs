//! The aggregates as [`Store`](crate::Store) methods, each on a pooled connection.

use super::*;

store_methods! {
    /// See [`analytics::spend`](spend).
    fn spend(workspace_id: WorkspaceId, filter: &EventFilter) -> i64 = with_conn(spend);

    /// See [`analytics::spend_each`](spend_each).
    fn spend_each(
        workspace_id: WorkspaceId,
        filters: &[EventFilter],
    ) -> Vec<i64> = with_conn(spend_each);

    /// See [`analytics::slots`](slots).
    fn slots(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        slot_secs: u32,
    ) -> Vec<SlotRow> = with_conn(slots);

    /// See [`analytics::by_provider`](by_provider).
    fn cost_by_provider(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Vec<GroupTotals> = with_conn(by_provider);

    /// See [`analytics::by_sender`](by_sender).
    fn cost_by_sender(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Vec<SenderTotals> = with_conn(by_sender);

    /// See [`analytics::daily_by_sender`](daily_by_sender).
    fn daily_by_sender(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Vec<DailySenderRow> = with_conn(daily_by_sender);

    /// See [`analytics::top_models`](top_models).
    fn top_models(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        limit: u32,
    ) -> Vec<ModelTotals> = with_conn(top_models);

    /// See [`analytics::by_tag`](by_tag).
    fn cost_by_tag(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        key: &str,
    ) -> TagBreakdown = with_conn(by_tag);

    /// See [`analytics::by_tag_top`](by_tag_top).
    fn cost_by_tag_top(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        key: &str,
        top: u32,
        use_ranking: bool,
    ) -> TagBreakdown = with_conn(by_tag_top);

    /// See [`analytics::ranking::rebuild`](ranking::rebuild).
    fn rebuild_tag_ranking(
        workspace_id: WorkspaceId,
        key: &str,
        now_micros: i64,
    ) -> bool = write(ranking::rebuild);

    /// See [`analytics::daily_by_model`](daily_by_model).
    fn daily_by_model(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Vec<DailyModelRow> = with_conn(daily_by_model);

    /// See [`analytics::daily_by_tag`](daily_by_tag).
    fn daily_by_tag(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        key: &str,
        focus: &[i64],
        top: u32,
    ) -> Vec<DailyTagRow> = with_conn(daily_by_tag);

    /// See [`analytics::token_mix`](token_mix).
    fn token_mix(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        prompts_above: Option<i64>,
    ) -> Vec<TokenMixRow> = with_conn(token_mix);

    /// See [`analytics::tag_keys`](tag_keys).
    fn tag_keys(
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        limit: u32,
    ) -> Vec<String> = with_conn(tag_keys);
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = rollups::SLOT_MICROS;

    fn sources(
        filter: &EventFilter,
        allow: Allow<'_>,
    ) -> Vec<(&'static str, Option<i64>, Option<i64>)> {
        plan(filter, allow)
            .into_iter()
            .map(|(src, f)| {
                let name = match src {
                    Src::Events => "events",
                    Src::Models => "models",
                    Src::Tags { .. } => "tags",
                };
                (name, f.start_micros, f.end_micros)
            })
            .collect()
    }

    #[test]
    fn whole_slots_come_from_rollups_and_cut_edges_from_events() {
        let aligned = EventFilter::between(10 * S, 20 * S);
        assert_eq!(
            sources(&aligned, Allow::Totals),
            [("models", Some(10 * S), Some(20 * S))]
        );
        let cut = EventFilter::between(10 * S + 1, 20 * S - 1);
        assert_eq!(
            sources(&cut, Allow::Models),
            [
                ("models", Some(11 * S), Some(19 * S)),
                ("events", Some(10 * S + 1), Some(11 * S)),
                ("events", Some(19 * S), Some(20 * S - 1)),
            ]
        );
        // Inside one slot, or two cut slots: the events alone.
        let inside = EventFilter::between(10 * S + 1, 10 * S + 2);
        assert_eq!(
            sources(&inside, Allow::Totals),
            [("events", Some(10 * S + 1), Some(10 * S + 2))]
        );
        let two = EventFilter::between(10 * S + 1, 11 * S + 2);
        assert_eq!(sources(&two, Allow::Totals).len(), 1);
        // Unbounded ends stay unbounded.
        assert_eq!(
            sources(&EventFilter::default(), Allow::Models),
            [("models", None, None)]
        );
    }

    #[test]
    fn filters_rollups_cannot_answer_read_the_events() {
        let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let one_tag = EventFilter {
            tags: vec![tag("team", "a")],
            ..EventFilter::default()
        };
        assert_eq!(sources(&one_tag, Allow::Totals)[0].0, "tags");
        assert_eq!(sources(&one_tag, Allow::Models)[0].0, "events");
        let scoped_tag = EventFilter {
            provider: Some("openai".into()),
            ..one_tag.clone()
        };
        assert_eq!(sources(&scoped_tag, Allow::Totals)[0].0, "events");
        let two_tags = EventFilter {
            tags: vec![tag("a", "1"), tag("b", "2")],
            ..EventFilter::default()
        };
        assert_eq!(sources(&two_tags, Allow::Totals)[0].0, "events");
        assert_eq!(
            sources(&EventFilter::default(), Allow::TagKey("team"))[0].0,
            "tags"
        );
        let by_model = EventFilter {
            model: Some("gpt-4o".into()),
            ..EventFilter::default()
        };
        assert_eq!(sources(&by_model, Allow::TagKey("team"))[0].0, "events");
        assert_eq!(
            sources(&EventFilter::default(), Allow::EventsOnly)[0].0,
            "events"
        );
    }
}
