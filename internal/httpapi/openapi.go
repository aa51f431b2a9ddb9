package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/version"
)

// OpenAPI describes the API in OpenAPI 3.0 from the operations table: one
// POST path per operation (interactive ones are not served), with its
// request and response schemas reflected from their Go types (JSON tags).
func OpenAPI(ops []api.OpInfo) map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]any{}
	for _, op := range ops {
		if op.Session {
			continue
		}
		reqSchema := g.of(reflect.TypeOf(op.NewRequest()).Elem())
		respSchema := any(map[string]any{})
		if op.NewResponse != nil {
			respSchema = g.of(reflect.TypeOf(op.NewResponse()).Elem())
		}
		kind := "change"
		if api.IsRead(op.Name) {
			kind = "read"
		}
		paths["/api/v1/ops/"+op.Name] = map[string]any{
			"post": map[string]any{
				"operationId":    op.Name,
				"summary":        op.Name,
				"description":    "Access: " + op.Access.String() + "; " + kind + ". Accept: text/event-stream streams its output as server-sent events (stdout, stderr, then result or error).",
				"tags":           []string{strings.SplitN(op.Name, ".", 2)[0]},
				"x-berth-access": op.Access.String(),
				"x-berth-read":   api.IsRead(op.Name),
				"requestBody": map[string]any{
					"required": false,
					"content":  map[string]any{"application/json": map[string]any{"schema": reqSchema}},
				},
				"responses": map[string]any{
					"200": map[string]any{
						"description": "the operation's result, with any output it printed",
						"content": map[string]any{
							"application/json": map[string]any{"schema": map[string]any{
								"type": "object",
								"properties": map[string]any{
									"result": respSchema,
									"stdout": map[string]any{"type": "string"},
									"stderr": map[string]any{"type": "string"},
								},
							}},
							"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}},
						},
					},
					"default": map[string]any{"$ref": "#/components/responses/Error"},
				},
			},
		}
	}
	paths["/api/v1/token"] = map[string]any{"get": map[string]any{
		"operationId": "token",
		"summary":     "the calling token: its name and what it may do",
		"responses": map[string]any{
			"200": map[string]any{"description": "the token", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object", "properties": map[string]any{
					"name": map[string]any{"type": "string"}, "admin": map[string]any{"type": "boolean"},
					"apps": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}, "read_only": map[string]any{"type": "boolean"},
				}}}}},
			"default": map[string]any{"$ref": "#/components/responses/Error"},
		},
	}}
	errSchema := map[string]any{"type": "object", "properties": map[string]any{
		"error": map[string]any{"type": "string"}, "code": map[string]any{"type": "string"},
	}}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Berth API",
			"version":     version.Version,
			"description": "Every operation of Berth's command table. Authenticate with Authorization: Bearer TOKEN (tokens:create). See docs/api.md.",
		},
		"security": []any{map[string]any{"token": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"token": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas":         g.schemas,
			"responses": map[string]any{"Error": map[string]any{
				"description": "a refusal or a failure: 400 invalid, 401 no or unknown token, 403 forbidden, 404 not found, 409 conflict, 423 locked, 429 too many failed authentications, 500, 503",
				"content":     map[string]any{"application/json": map[string]any{"schema": errSchema}},
			}},
		},
	}
}

type schemaGen struct {
	schemas map[string]any
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage(nil))
)

// of is the schema of t: named structs go to components and are referred to.
func (g *schemaGen) of(t reflect.Type) any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == reflect.TypeOf(time.Duration(0)) {
			return map[string]any{"type": "integer", "description": "nanoseconds"}
		}
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := t.Name()
		if _, ok := g.schemas[name]; !ok {
			g.schemas[name] = map[string]any{} // recursion guard
			g.schemas[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// object is a struct's schema: its JSON fields, embedded structs' inlined.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	g.fields(t, props)
	return map[string]any{"type": "object", "properties": props}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.of(f.Type)
	}
}
