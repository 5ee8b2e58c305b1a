package byocp

import (
	"testing"
	"time"

	"github.com/byocp/byocp/media"
)

// The Bridge's relay runs on the engine by default; Goroutines and an
// explicit Engine are taken as given.
func TestMediaConfigEngine(t *testing.T) {
	for _, tc := range []struct {
		cfg  MediaConfig
		want media.Engine
	}{
		{MediaConfig{}, media.Engine{Workers: 1}},
		{MediaConfig{Goroutines: true}, media.Engine{}},
		{MediaConfig{Engine: media.Engine{Workers: 2, PollWindow: time.Millisecond}}, media.Engine{Workers: 2, PollWindow: time.Millisecond}},
	} {
		if got := tc.cfg.engine(); got != tc.want {
			t.Errorf("%+v: engine %+v, want %+v", tc.cfg, got, tc.want)
		}
	}
}
