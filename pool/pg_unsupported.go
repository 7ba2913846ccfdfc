package pool

import (
	"context"
	"time"
)

// The methods of SQLiteStore the PostgreSQL store does not implement yet. Each fails
// with ErrUnsupported naming the method, so a deployment on PostgreSQL sees at once
// which feature it lacks; none fakes success.

// Binding is not implemented yet (ErrUnsupported).
func (s *PostgresStore) Binding(context.Context, int64) (BindingRecord, error) {
	return BindingRecord{}, pgUnsupported("Binding")
}

// UpdateBinding is not implemented yet (ErrUnsupported).
func (s *PostgresStore) UpdateBinding(context.Context, int64, BindingPatch) (BindingRecord, error) {
	return BindingRecord{}, pgUnsupported("UpdateBinding")
}

// DeleteBinding is not implemented yet (ErrUnsupported).
func (s *PostgresStore) DeleteBinding(context.Context, int64) (BindingRecord, error) {
	return BindingRecord{}, pgUnsupported("DeleteBinding")
}

// ListBindings is not implemented yet (ErrUnsupported).
func (s *PostgresStore) ListBindings(context.Context, BindingFilter) ([]BindingRecord, int64, error) {
	return nil, 0, pgUnsupported("ListBindings")
}

// CollectGarbage is not implemented yet (ErrUnsupported).
func (s *PostgresStore) CollectGarbage(context.Context, time.Time) (GCResult, error) {
	return GCResult{}, pgUnsupported("CollectGarbage")
}

// RememberCallback is not implemented yet (ErrUnsupported).
func (s *PostgresStore) RememberCallback(context.Context, CallbackRelation) error {
	return pgUnsupported("RememberCallback")
}

// CallbackRelation is not implemented yet (ErrUnsupported).
func (s *PostgresStore) CallbackRelation(context.Context, string, string, time.Time) (CallbackRelation, error) {
	return CallbackRelation{}, pgUnsupported("CallbackRelation")
}

// ListCalls is not implemented yet (ErrUnsupported).
func (s *PostgresStore) ListCalls(context.Context, CallQuery) (CallPage, error) {
	return CallPage{}, pgUnsupported("ListCalls")
}

// ListFeedback is not implemented yet (ErrUnsupported).
func (s *PostgresStore) ListFeedback(context.Context, FeedbackQuery) ([]FeedbackRecord, int64, error) {
	return nil, 0, pgUnsupported("ListFeedback")
}

// CostOf is not implemented yet (ErrUnsupported).
func (s *PostgresStore) CostOf(context.Context, CostQuery) (CostSummary, error) {
	return CostSummary{}, pgUnsupported("CostOf")
}

// ListDNC is not implemented yet (ErrUnsupported).
func (s *PostgresStore) ListDNC(context.Context, DNCQuery) ([]DNCEntry, bool, error) {
	return nil, false, pgUnsupported("ListDNC")
}

// IssueAgentToken is not implemented yet (ErrUnsupported).
func (s *PostgresStore) IssueAgentToken(context.Context, AgentToken) (string, AgentToken, error) {
	return "", AgentToken{}, pgUnsupported("IssueAgentToken")
}

// AuthenticateAgentToken is not implemented yet (ErrUnsupported).
func (s *PostgresStore) AuthenticateAgentToken(context.Context, string) (AgentToken, error) {
	return AgentToken{}, pgUnsupported("AuthenticateAgentToken")
}

// AgentToken is not implemented yet (ErrUnsupported).
func (s *PostgresStore) AgentToken(context.Context, string) (AgentToken, error) {
	return AgentToken{}, pgUnsupported("AgentToken")
}

// RevokeAgentToken is not implemented yet (ErrUnsupported).
func (s *PostgresStore) RevokeAgentToken(context.Context, string) (AgentToken, error) {
	return AgentToken{}, pgUnsupported("RevokeAgentToken")
}

// RevokeAgentTokens is not implemented yet (ErrUnsupported).
func (s *PostgresStore) RevokeAgentTokens(context.Context, string, string) ([]AgentToken, error) {
	return nil, pgUnsupported("RevokeAgentTokens")
}

// SaveRecording is not implemented yet (ErrUnsupported).
func (s *PostgresStore) SaveRecording(context.Context, Recording) error {
	return pgUnsupported("SaveRecording")
}

// Recording is not implemented yet (ErrUnsupported).
func (s *PostgresStore) Recording(context.Context, string) (Recording, error) {
	return Recording{}, pgUnsupported("Recording")
}

// ListRecordings is not implemented yet (ErrUnsupported).
func (s *PostgresStore) ListRecordings(context.Context, RecordingQuery) ([]Recording, error) {
	return nil, pgUnsupported("ListRecordings")
}

// PruneCalls is not implemented yet (ErrUnsupported).
func (s *PostgresStore) PruneCalls(context.Context, time.Time) (PruneResult, error) {
	return PruneResult{}, pgUnsupported("PruneCalls")
}
