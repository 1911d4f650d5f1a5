package ellastub

// Revision is one migration of the stand-in's schema, applied in order like alembic's.
type Revision struct {
	ID  string
	SQL string
}

// The table and column v2's migration adds.
const (
	MigratedTable  = "filterconfig"
	MigratedColumn = "requirements"
)

// Revisions are the stand-in's migrations: the first makes the tables ELLA has (the ones a
// deploy touches), the second adds a column.
var Revisions = []Revision{
	{ID: "e11a00000001", SQL: `
CREATE TABLE broadcast (id serial PRIMARY KEY, date_created timestamptz NOT NULL DEFAULT now(),
  message text NOT NULL, active boolean NOT NULL);
CREATE TABLE usersession (id serial PRIMARY KEY, user_id integer, issued timestamptz NOT NULL DEFAULT now());
CREATE TABLE uiexception (id serial PRIMARY KEY, time timestamptz NOT NULL DEFAULT now(),
  usersession_id integer REFERENCES usersession(id), message text NOT NULL, location text, stacktrace text, state jsonb);
CREATE TABLE usergroup (id serial PRIMARY KEY, name text NOT NULL UNIQUE, config jsonb NOT NULL);
CREATE TABLE filterconfig (id serial PRIMARY KEY, name text NOT NULL UNIQUE, filterconfig jsonb NOT NULL,
  active boolean NOT NULL DEFAULT true);
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('e11a00000001');
`},
	{ID: "e11a00000002", SQL: `
ALTER TABLE ` + MigratedTable + ` ADD COLUMN ` + MigratedColumn + ` jsonb NOT NULL DEFAULT '[]';
UPDATE alembic_version SET version_num = 'e11a00000002';
`},
	// A release whose migration fails half-way (a data fix that hits a bad row): nothing of
	// it stays, as the upgrade runs in one transaction.
	{ID: "e11a00000003", SQL: `
ALTER TABLE broadcast ADD COLUMN audience text;
SELECT 1 / 0 AS failing_data_fix;
UPDATE alembic_version SET version_num = 'e11a00000003';
`},
}

func revisionIndex(id string) int {
	for i, r := range Revisions {
		if r.ID == id {
			return i
		}
	}
	return -1
}
