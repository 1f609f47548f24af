package pool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ringwire/ringwire/pool"
)

// conn stands in for something costly to create, such as a network
// connection.
type conn struct{ id int }

func Example() {
	next := 0
	p, err := pool.New(pool.Config[*conn]{
		Constructor: func(ctx context.Context) (*conn, error) {
			next++ // safe here: this example acquires from one goroutine
			return &conn{id: next}, nil
		},
		Destructor: func(c *conn) { fmt.Println("closing conn", c.id) },
		MaxSize:    2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	for range 2 {
		res, err := p.Acquire(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("using conn", res.Value().id)
		res.Release()
	}

	s := p.Stat()
	fmt.Printf("acquires %d, created %d, reuse rate %.1f\n", s.AcquireCount, s.CreatedCount, s.ReuseRate())
	if err := p.Close(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// using conn 1
	// using conn 1
	// acquires 2, created 1, reuse rate 0.5
	// closing conn 1
}

func ExamplePool_TryAcquire() {
	p, err := pool.New(pool.Config[int]{
		Constructor: func(ctx context.Context) (int, error) { return 42, nil },
		MaxSize:     1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	// Nothing is idle yet: TryAcquire does not wait, but starts a
	// construction in the background.
	_, err = p.TryAcquire(context.Background())
	fmt.Println(errors.Is(err, pool.ErrNotAvailable))

	for {
		res, err := p.TryAcquire(context.Background())
		if errors.Is(err, pool.ErrNotAvailable) {
			time.Sleep(time.Millisecond)
			continue
		}
		fmt.Println(res.Value(), err)
		res.Release()
		return
	}
	// Output:
	// true
	// 42 <nil>
}

func ExampleConfig_Validate() {
	cfg := pool.Config[int]{MaxSize: 2}
	err := cfg.Validate()
	fmt.Println(err)
	fmt.Println(errors.Is(err, pool.ErrInvalidConfig))
	// Output:
	// pool: invalid config: Constructor is nil
	// true
}
