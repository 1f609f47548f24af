// Package pool is a generic resource pool: connections, sessions, buffers,
// anything that is costly to create and can be reused.
//
// A Pool creates values with a Constructor, hands them out as *Resource
// handles, and takes them back on Release. It bounds its size (MaxSize),
// keeps spare resources ready (MinIdle), destroys resources that sat idle
// too long (IdleTimeout) or lived too long (MaxLifetime), health-checks
// resources that sat idle before handing them out and in the background,
// grows while callers wait and shrinks when they stop, and counts what it
// does (Stat).
//
//	p, err := pool.New(pool.Config[*Conn]{
//		Constructor: func(ctx context.Context) (*Conn, error) { return dial(ctx) },
//		Destructor:  func(c *Conn) { c.Close() },
//		MaxSize:     8,
//	})
//	if err != nil { ... }
//	defer p.Close(context.Background())
//
//	res, err := p.Acquire(ctx)
//	if err != nil { ... }
//	defer res.Release()
//	use(res.Value())
//
// Acquiring and releasing an idle resource takes one mutex round each and
// allocates nothing: each value keeps one handle for its whole life.
package pool
