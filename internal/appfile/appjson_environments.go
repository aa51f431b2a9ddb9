package appfile

// ReviewEnvironment is app.json's environments.review (Heroku's review
// apps): what a preview app changes of its parent's settings.
type ReviewEnvironment struct {
	// Env are config vars set on the preview over the parent's copy.
	Env map[string]EnvSpec
	// Formation scales the preview's process types.
	Formation map[string]Formation
	// Addons are the add-ons named (Heroku's; Berth copies the parent's
	// linked services instead, and reports these only).
	Addons []string
	// Postdeploy runs once, after the preview's first deploy;
	// PrPredestroy before the preview is destroyed.
	Postdeploy   string
	PrPredestroy string
}

// environments reads "environments", keeping its "review" object (other
// environments, such as Heroku's "test", are ignored).
func (d *jsonDoc) environments(n *jsonNode) (*ReviewEnvironment, error) {
	if err := d.wantKind(n, "environments", jsonObject); err != nil {
		return nil, err
	}
	f, err := d.fields(n, "environments", "review")
	if err != nil {
		return nil, err
	}
	rn := f["review"]
	if rn == nil {
		return nil, nil
	}
	const at = "environments.review"
	if err := d.wantKind(rn, at, jsonObject); err != nil {
		return nil, err
	}
	rf, err := d.fields(rn, at, "env", "formation", "addons", "scripts")
	if err != nil {
		return nil, err
	}
	r := &ReviewEnvironment{}
	if v := rf["env"]; v != nil {
		if r.Env, err = d.envAt(v, at+".env"); err != nil {
			return nil, err
		}
	}
	if v := rf["formation"]; v != nil {
		if r.Formation, err = d.formation(v); err != nil {
			return nil, err
		}
	}
	if v := rf["addons"]; v != nil {
		if err := d.wantKind(v, at+".addons", jsonArray); err != nil {
			return nil, err
		}
		for _, a := range v.arr {
			switch a.kind {
			case jsonString:
				r.Addons = append(r.Addons, a.s)
			case jsonObject:
				af, err := d.fields(a, at+".addons[]", "plan", "as", "options")
				if err != nil {
					return nil, err
				}
				if p := af["plan"]; p != nil {
					s, err := d.str(p, at+".addons[].plan")
					if err != nil {
						return nil, err
					}
					r.Addons = append(r.Addons, s)
				}
			default:
				return nil, d.errAt(a.off, "%s.addons entries must be strings or objects, not %s", at, a.kind)
			}
		}
	}
	if v := rf["scripts"]; v != nil {
		if err := d.wantKind(v, at+".scripts", jsonObject); err != nil {
			return nil, err
		}
		sf, err := d.fields(v, at+".scripts", "postdeploy", "pr-predestroy")
		if err != nil {
			return nil, err
		}
		if c := sf["postdeploy"]; c != nil {
			if r.Postdeploy, err = d.command(c, at+".scripts.postdeploy"); err != nil {
				return nil, err
			}
		}
		if c := sf["pr-predestroy"]; c != nil {
			if r.PrPredestroy, err = d.command(c, at+".scripts.pr-predestroy"); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}
