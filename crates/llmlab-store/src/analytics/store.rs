//! The aggregates as [`Store`] methods, each on a pooled connection.

use super::*;

impl Store {
    /// See [`analytics::spend`](spend).
    pub fn spend(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Result<i64, StoreError> {
        self.with_conn(|c| spend(c, workspace_id, filter))
    }

    /// See [`analytics::slots`](slots).
    pub fn slots(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        slot_secs: u32,
    ) -> Result<Vec<SlotRow>, StoreError> {
        self.with_conn(|c| slots(c, workspace_id, filter, slot_secs))
    }

    /// See [`analytics::by_provider`](by_provider).
    pub fn cost_by_provider(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Result<Vec<GroupTotals>, StoreError> {
        self.with_conn(|c| by_provider(c, workspace_id, filter))
    }

    /// See [`analytics::top_models`](top_models).
    pub fn top_models(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Vec<ModelTotals>, StoreError> {
        self.with_conn(|c| top_models(c, workspace_id, filter, limit))
    }

    /// See [`analytics::by_tag`](by_tag).
    pub fn cost_by_tag(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        key: &str,
    ) -> Result<Vec<TagTotals>, StoreError> {
        self.with_conn(|c| by_tag(c, workspace_id, filter, key))
    }

    /// See [`analytics::daily_by_model`](daily_by_model).
    pub fn daily_by_model(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
    ) -> Result<Vec<DailyModelRow>, StoreError> {
        self.with_conn(|c| daily_by_model(c, workspace_id, filter))
    }

    /// See [`analytics::daily_by_tag`](daily_by_tag).
    pub fn daily_by_tag(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        key: &str,
    ) -> Result<Vec<DailyTagRow>, StoreError> {
        self.with_conn(|c| daily_by_tag(c, workspace_id, filter, key))
    }

    /// See [`analytics::token_mix`](token_mix).
    pub fn token_mix(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        prompts_above: Option<i64>,
    ) -> Result<Vec<TokenMixRow>, StoreError> {
        self.with_conn(|c| token_mix(c, workspace_id, filter, prompts_above))
    }

    /// See [`analytics::tag_keys`](tag_keys).
    pub fn tag_keys(
        &self,
        workspace_id: WorkspaceId,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.with_conn(|c| tag_keys(c, workspace_id, filter, limit))
    }
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
