//go:build race

package media

// raceDetector: the race detector makes sync.Pool drop what it is given,
// so allocation counts of code that uses one (pion's SRTCP) are not
// meaningful; .ci/run runs the allocation tests without it too.
const raceDetector = true
