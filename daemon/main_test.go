package daemon

import (
	"io"
	"net"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// dialEnv, when set, makes the test binary a peer that connects to the
// Unix socket it names, reads until the daemon closes the connection and
// exits (TestSocketRefusesOtherUID runs it as another uid).
const dialEnv = "RINGWIRED_TEST_DIAL"

func TestMain(m *testing.M) {
	if path := os.Getenv(dialEnv); path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		n, _ := io.Copy(io.Discard, c)
		if n != 0 {
			os.Stderr.WriteString("the daemon answered a peer of another uid\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
