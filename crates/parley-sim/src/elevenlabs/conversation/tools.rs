//! The agent's tools: client tools over the WebSocket and server (webhook) tools over
//! HTTP, their results and timeouts.

use super::*;

impl Session {
    pub(super) async fn call_tool(
        &mut self,
        tool_name: &str,
        parameters: &str,
        reply: Option<(&'static str, After)>,
    ) -> Result<(), EndedBy> {
        let tool_call_id = format!("toolu_{}", uuid::Uuid::new_v4().simple());
        let parameters: Value = serde_json::from_str(parameters).unwrap_or_default();
        let event_id = self.take_event_id();
        if let Some(tools) = self.server_tools.clone() {
            self.send(&ServerMessage::AgentToolRequest {
                agent_tool_request: AgentToolRequest {
                    tool_name: tool_name.to_owned(),
                    tool_call_id: tool_call_id.clone(),
                    tool_type: Some("webhook".into()),
                    event_id: Some(event_id),
                },
            })
            .await?;
            let request = self.server_tool_request(&tools, tool_name, &parameters);
            let answers = self.server_results_tx.clone();
            let (id, name) = (tool_call_id.clone(), tool_name.to_owned());
            tokio::spawn(async move {
                let (body, is_error) = match request.send().await {
                    Ok(response) => {
                        let failed = !response.status().is_success();
                        (response.text().await.unwrap_or_default(), failed)
                    }
                    Err(e) => (e.to_string(), true),
                };
                let _ = answers.send((id, name, body, is_error)).await;
            });
        } else {
            self.send(&ServerMessage::ClientToolCall {
                client_tool_call: ClientToolCall {
                    tool_name: tool_name.to_owned(),
                    tool_call_id: tool_call_id.clone(),
                    parameters: parameters.clone(),
                    event_id: Some(event_id),
                },
            })
            .await?;
        }
        let call = SimToolCall {
            tool_call_id: tool_call_id.clone(),
            tool_name: tool_name.to_owned(),
            parameters,
            result: None,
            timed_out: false,
        };
        self.update(|r| {
            let turn = r.push_turn(Role::Agent, None);
            r.summary.transcript[turn].tool_calls = Some(vec![transcript_tool_call(&call)]);
            r.summary.tool_calls.push(call);
        });
        let now = Instant::now();
        self.agent = Agent::AwaitingTool(PendingTool {
            tool_call_id,
            sent: now,
            deadline: now + TOOL_WAIT,
            reply,
        });
        Ok(())
    }

    /// The webhook request the platform makes for a server tool (reference I.1): the
    /// parameters as a JSON object, plus the `call_id` dynamic variable.
    pub(super) fn server_tool_request(
        &self,
        tools: &crate::elevenlabs::ServerTools,
        tool_name: &str,
        parameters: &Value,
    ) -> reqwest::RequestBuilder {
        let mut body = match parameters {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        if let Some(call_id) = &self.call_id {
            body.insert("call_id".into(), Value::String(call_id.clone()));
        }
        let url = format!("{}/{tool_name}", tools.base_url.trim_end_matches('/'));
        let mut request = self.inner.http.post(url).json(&body);
        if let Some(secret) = tools.secrets.get(tool_name) {
            request = request.bearer_auth(secret);
        }
        request
    }

    /// A server tool answered: tell the client, as the platform does, then go on.
    pub(super) async fn on_server_tool_answer(
        &mut self,
        tool_call_id: String,
        tool_name: String,
        body: String,
        is_error: bool,
    ) -> Result<(), EndedBy> {
        let event_id = self.take_event_id();
        self.send(&ServerMessage::AgentToolResponse {
            agent_tool_response: AgentToolResponse {
                tool_name,
                tool_call_id: tool_call_id.clone(),
                tool_type: Some("webhook".into()),
                is_error,
                is_called: Some(true),
                event_id: Some(event_id),
            },
        })
        .await?;
        self.on_tool_result(tool_call_id, body, is_error).await
    }

    pub(super) async fn on_tool_result(
        &mut self,
        tool_call_id: String,
        result: String,
        is_error: bool,
    ) -> Result<(), EndedBy> {
        let awaited =
            matches!(&self.agent, Agent::AwaitingTool(p) if p.tool_call_id == tool_call_id);
        let latency = match &self.agent {
            Agent::AwaitingTool(pending) if awaited => Instant::now() - pending.sent,
            _ => Duration::ZERO,
        };
        let outcome = SimToolResult {
            result,
            is_error,
            latency,
        };
        // Late results (after the wait) are still recorded against their call.
        self.settle_tool(&tool_call_id, |call| {
            call.result.get_or_insert(outcome);
        });
        if !awaited {
            return Ok(());
        }
        let Agent::AwaitingTool(pending) = std::mem::replace(&mut self.agent, Agent::Listening)
        else {
            unreachable!("checked above");
        };
        self.after_tool(pending).await
    }

    /// Applies `change` to the recorded call and refreshes its transcript turn.
    pub(super) fn settle_tool(
        &mut self,
        tool_call_id: &str,
        change: impl FnOnce(&mut SimToolCall),
    ) {
        self.update(|r| {
            let Some(call) = r
                .summary
                .tool_calls
                .iter_mut()
                .find(|c| c.tool_call_id == tool_call_id)
            else {
                tracing::debug!(tool_call_id, "client_tool_result for an unknown call");
                return;
            };
            change(call);
            let result = transcript_tool_result(call);
            let request_id = Some(call.tool_call_id.clone());
            let turn = r.summary.transcript.iter_mut().find(|t| {
                t.tool_calls
                    .as_ref()
                    .is_some_and(|calls| calls.iter().any(|c| c.request_id == request_id))
            });
            if let Some(turn) = turn {
                turn.tool_results = result.map(|r| vec![r]);
            }
        });
    }

    pub(super) async fn after_tool(&mut self, pending: PendingTool) -> Result<(), EndedBy> {
        match pending.reply {
            Some((text, then)) => self.reply(Some(text), then).await,
            None => self.reply(None, After::Listen).await,
        }
    }
}
