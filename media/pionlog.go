package media

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs routes pion's logging into a *slog.Logger, with the pion scope
// ("ice", "dtls", "pc", ...) as an attribute. pion's info messages are
// routine connection events, so they go to debug; its debug and trace
// output goes below debug (slog.LevelDebug-4) and is formatted only if the
// handler wants it.
type pionLogs struct{ log *slog.Logger }

var (
	_ logging.LoggerFactory = pionLogs{}
	_ logging.LeveledLogger = pionLogger{}
)

func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With("pion", scope)}
}

// levelTrace is the slog level of pion's debug and trace messages.
const levelTrace = slog.LevelDebug - 4

type pionLogger struct{ log *slog.Logger }

func (p pionLogger) emit(level slog.Level, msg string) {
	p.log.Log(context.Background(), level, msg)
}

func (p pionLogger) emitf(level slog.Level, format string, args ...any) {
	if p.log.Enabled(context.Background(), level) {
		p.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (p pionLogger) Trace(msg string)                  { p.emit(levelTrace, msg) }
func (p pionLogger) Tracef(format string, args ...any) { p.emitf(levelTrace, format, args...) }
func (p pionLogger) Debug(msg string)                  { p.emit(levelTrace, msg) }
func (p pionLogger) Debugf(format string, args ...any) { p.emitf(levelTrace, format, args...) }
func (p pionLogger) Info(msg string)                   { p.emit(slog.LevelDebug, msg) }
func (p pionLogger) Infof(format string, args ...any)  { p.emitf(slog.LevelDebug, format, args...) }
func (p pionLogger) Warn(msg string)                   { p.emit(slog.LevelWarn, msg) }
func (p pionLogger) Warnf(format string, args ...any)  { p.emitf(slog.LevelWarn, format, args...) }
func (p pionLogger) Error(msg string)                  { p.emit(slog.LevelError, msg) }
func (p pionLogger) Errorf(format string, args ...any) { p.emitf(slog.LevelError, format, args...) }
