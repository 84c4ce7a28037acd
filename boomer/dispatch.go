package boomer

import "math"

// Dispatcher hands out users as a Locust master dispatches them to a single worker:
// classes with a FixedCount first, then the others by weight in smooth weighted round
// robin, as Locust's UsersDispatcher orders them. It advances one user at a time and
// keeps only the per-class counts, so its memory is O(classes) whatever the user count:
// a count asked for is never turned into a list of that many steps.
type Dispatcher struct {
	counts    map[string]int
	total     int // users to dispatch in all
	done      int // users dispatched so far
	fixedLeft int // fixed-count classes not yet full
	fixed     func() *UserClass
	weighted  func() *UserClass // nil: no weighted class
}

// NewDispatcher prepares the dispatch of n users (n < 0 counts as 0) of classes.
func NewDispatcher(classes []*UserClass, n int) *Dispatcher {
	var fixed, weighted []*UserClass
	fixedSum := 0
	d := &Dispatcher{counts: make(map[string]int, len(classes))}
	for _, c := range classes {
		d.counts[c.Name] = 0
		if c.FixedCount > 0 {
			fixed = append(fixed, c)
			fixedSum = satAdd(fixedSum, c.FixedCount)
		} else {
			weighted = append(weighted, c)
		}
	}
	d.fixedLeft = len(fixed)
	d.fixed = cycle(fixed, func(c *UserClass) int { return c.FixedCount })
	d.total = max(n, 0)
	if len(weighted) > 0 {
		d.weighted = cycle(weighted, func(c *UserClass) int { return max(c.Weight, 1) })
	} else {
		// Only fixed-count classes: no more users than they ask for.
		d.total = min(d.total, fixedSum)
	}
	return d
}

// Len is the number of users dispatched in all: n, or fewer when every class has a
// FixedCount and together they ask for fewer.
func (d *Dispatcher) Len() int { return d.total }

// Advance dispatches users until the first k (at most Len; earlier users stay
// dispatched) and returns the per-class targets then, every class included, as a new
// map.
func (d *Dispatcher) Advance(k int) map[string]int {
	k = min(k, d.total)
	for d.done < k && d.fixedLeft > 0 {
		c := d.fixed()
		if d.counts[c.Name] < c.FixedCount {
			d.counts[c.Name]++
			d.done++
			if d.counts[c.Name] == c.FixedCount {
				d.fixedLeft--
			}
		}
	}
	for d.done < k {
		d.counts[d.weighted().Name]++
		d.done++
	}
	out := make(map[string]int, len(d.counts))
	for name, n := range d.counts {
		out[name] = n
	}
	return out
}

// cycle is Locust's infinite_cycle_gen: values normalised so that the smallest is 2,
// then smooth weighted round robin over them. One round of it brings the running
// weights back to zero, so picking as it goes repeats the same round as Locust's list
// does, without holding a list as long as the weights' sum.
func cycle(classes []*UserClass, value func(*UserClass) int) func() *UserClass {
	if len(classes) == 0 {
		return func() *UserClass { return nil }
	}
	if len(classes) == 1 {
		return func() *UserClass { return classes[0] }
	}
	minV := value(classes[0])
	for _, c := range classes {
		minV = min(minV, value(c))
	}
	weights := make([]int, len(classes))
	total := 0
	for i, c := range classes {
		weights[i] = int(math.RoundToEven(2 * float64(value(c)) / float64(minV)))
		total = satAdd(total, weights[i])
	}
	current := make([]int, len(classes))
	return func() *UserClass {
		best := -1
		for i := range classes {
			current[i] += weights[i]
			if best < 0 || current[best] < current[i] {
				best = i
			}
		}
		current[best] -= total
		return classes[best]
	}
}

// satAdd is a+b for non-negative a and b, at most math.MaxInt.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
