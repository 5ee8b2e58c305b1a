package trunktest_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/byocp/byocp/trunk/trunktest"
)

// ExampleNewCarrier places a call from one fake carrier to another and
// exchanges a second of audio, the way a vendor's test would call its own
// SBC's carrier side.
func ExampleNewCarrier() {
	callee, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer callee.Close()
	caller, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := caller.Dial(ctx, callee.Addr(), "14155550100", "14155550199")
	if err != nil {
		log.Fatal(err)
	}
	answered, _ := callee.Accept(ctx)
	<-answered.Answered()
	_ = call.SendAudio(ctx, 50) // 50 packets of 20 ms
	for i := 0; i < 100 && answered.Media().Received < 50; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	_ = call.Hangup(ctx)
	<-answered.Done()
	// Both carriers send stream 1, so the callee counts them as another stream.
	fmt.Println("received:", answered.Media().Received)
	// Output:
	// received: 50
}
