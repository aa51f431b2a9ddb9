package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// migrate is the seed's `python manage.py migrate` in predeploy: it creates
// the items table in $DATABASE_URL and records that it ran.
func migrate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, v text NOT NULL);
		CREATE TABLE IF NOT EXISTS migrations (at timestamptz NOT NULL DEFAULT now(), version text)`)
	if err == nil {
		_, err = conn.Exec(ctx, "INSERT INTO migrations (version) VALUES ($1)", os.Getenv("APP_VERSION"))
	}
	if err == nil {
		fmt.Println("migrated", os.Getenv("APP_VERSION"))
	}
	return err
}

// dataHandlers serve /db (GET lists items, POST ?v= adds one) through
// $DATABASE_URL, and /kv (GET ?k=, POST ?k=&v=) through $REDIS_URL.
func dataHandlers(mux *http.ServeMux) {
	mux.HandleFunc("/db", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer conn.Close(ctx)
		if r.Method == http.MethodPost {
			if _, err := conn.Exec(ctx, "INSERT INTO items (v) VALUES ($1)", r.URL.Query().Get("v")); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		rows, err := conn.Query(ctx, "SELECT v FROM items ORDER BY id")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, strings.Join(vs, ","))
	})
	mux.HandleFunc("/kv", func(w http.ResponseWriter, r *http.Request) {
		opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		k := r.URL.Query().Get("k")
		if r.Method == http.MethodPost {
			if err := c.Set(r.Context(), k, r.URL.Query().Get("v"), 0).Err(); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		v, err := c.Get(r.Context(), k).Result()
		if err != nil && err != redis.Nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, v)
	})
}
