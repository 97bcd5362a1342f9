// Reads an iCalendar file with ical.js and prints its events as JSON, one object per VEVENT.
// Times are resolved with the VTIMEZONE components of the file itself, as Thunderbird does
// for a zone it does not know.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}

function instant(time) {
  if (time.isDate) {
    return time.toString();
  }
  return new Date(time.toUnixTime() * 1000).toISOString();
}

const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    start: instant(event.startDate),
    end: instant(event.endDate),
    tzid: event.startDate.isDate ? null : event.startDate.zone.tzid,
    sequence: event.sequence,
    dtstamp: component.getFirstPropertyValue("dtstamp").toString(),
    last_modified: component.hasProperty("last-modified")
      ? component.getFirstPropertyValue("last-modified").toString()
      : null,
  };
});
process.stdout.write(JSON.stringify({ name: calendar.getFirstPropertyValue("x-wr-calname"), events }));
