-- CheckedIn v2 (schemas/events/presence/CheckedIn.v2.avsc): the position's
-- accuracy and altitude as the device reported them. Rows of v1 events keep
-- them null, the v2 schema's defaults.
ALTER TABLE presence_records
    ADD COLUMN accuracy_m double precision,
    ADD COLUMN altitude_m double precision;
