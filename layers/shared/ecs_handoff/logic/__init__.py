"""What the functions decide, with AWS access injected: a module per function or workflow step (intake, lock,
request_approval, approval_page, gate, deploy, rollout, rollback, finalize, sweeper,
operator_api), and what several of them share: authority (re-deriving what a deployment may do) and revisions
(retiring handoff's old task definition revisions)."""
