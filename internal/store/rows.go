package store

// scanner is what a row scanner needs: *sql.Row and *sql.Rows both are one.
type scanner interface{ Scan(...any) error }

// eachRow runs query and calls fn on each row, stopping at fn's first error.
func (t *Tx) eachRow(fn func(scanner) error, query string, args ...any) error {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRows runs query and returns each row as scan reads it.
func queryRows[T any](t *Tx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := t.eachRow(func(row scanner) error {
		v, err := scan(row)
		if err == nil {
			out = append(out, v)
		}
		return err
	}, query, args...)
	return out, err
}

// keyValues runs a query of two string columns and returns them as a map.
func (t *Tx) keyValues(query string, args ...any) (map[string]string, error) {
	out := map[string]string{}
	err := t.eachRow(func(row scanner) error {
		var k, v string
		err := row.Scan(&k, &v)
		out[k] = v
		return err
	}, query, args...)
	return out, err
}
