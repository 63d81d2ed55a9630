-- The list every agent desktop and dashboard asks for: open interactions in number order
-- (`active=true^ORDERBYnumber`; the Table API adds sys_id to every ordering so pages are
-- stable). Without it the query walked the number index through every closed interaction
-- before the first open one, then sorted: 3.8 ms a page once most interactions were closed.
CREATE INDEX interaction_active_number ON interaction (active, number, sys_id);
