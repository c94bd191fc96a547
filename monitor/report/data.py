"""The study as the report reads it: each sheet's typed frame (absent columns null), the graded
labs, the cycle table and every dated record attached to the cycle whose window holds its date.

Cycle periods. A cycle starts on its dose date and ends the day before the next cycle (the
last cycle: `cycle_days` later; with continuous daily dosing, where each Cycles row is a dosing
period, the last period ends on its End date, else at the data cut). Records with a date (labs, vitals, scans, AE onsets, and the
findings on them) are attached to the cycle whose *window* holds the date, where the window
starts `predose_lab_days` before the dose date, so a pre-dose panel belongs to the cycle it
precedes. A lab drawn in [dose - predose_lab_days, dose] is a pre-dose lab of that cycle.

`StudyData` is built once per report; the page-kind modules (overview, subject, cycle,
chart_data, findings) read it.
"""

from __future__ import annotations

import polars as pl

from .fmt import norm, rows_by_subject, sheet_frame
from .findings import index_findings


class StudyData:
    def __init__(self, result, profile, generated, labs, previous_ids, tables):
        self.result, self.profile, self.generated = result, profile, generated
        self.wb = result.wb
        self.previous = previous_ids
        self.tables = tables
        sched = profile.schedule
        self.continuous = profile.continuous
        self.cycle_days = int(sched["cycle_days"]) if "cycle_days" in sched else None
        self.has_predose = "predose_lab_days" in sched     # a daily patch has no pre-dose labs
        self.predose = int(sched.get("predose_lab_days", 0))
        self.cycle_word = "Period" if self.continuous else "Cycle"
        self.drugs = profile.drugs
        self.lookup = {norm(k): v for k, v in profile.drug_lookup().items()}
        self.today = generated.date()
        wb = self.wb
        self.subjects_df = sheet_frame(wb, "Subjects", {
            "subject": pl.String, "sex": pl.String, "age": pl.Int64, "weight": pl.Float64,
            "consent_date": pl.Date, "child_pugh": pl.String, "bclc": pl.String, "ecog": pl.Int64,
            "off_date": pl.Date, "off_reason": pl.String, "arm": pl.String}).filter(pl.col("subject").is_not_null())
        self.subject_ids = list(dict.fromkeys(self.subjects_df["subject"].to_list()))
        cyc = sheet_frame(wb, "Cycles", {"subject": pl.String, "cycle": pl.Int64, "date": pl.Date,
                                         "drug": pl.String, "dose": pl.Float64, "unit": pl.String,
                                         "weight": pl.Float64, "action": pl.String, "reason": pl.String,
                                         "end_date": pl.Date})
        self.cycles_df = cyc.filter(pl.col("subject").is_not_null() & pl.col("cycle").is_not_null())
        # one row per subject-cycle: its date (the earliest date entered for it) and window
        self.cycle_table = (
            self.cycles_df.filter(pl.col("date").is_not_null() & (pl.col("date") <= self.today))
            .group_by("subject", "cycle").agg(pl.col("date").min(), pl.col("end_date").max())
            .sort("subject", "date", "cycle")
            .with_columns(pl.col("date").shift(-1).over("subject").alias("next_date"))
            .with_columns((pl.col("date") - pl.duration(days=self.predose)).alias("window_start"),
                          self._last_end().alias("last_end"))
            .with_columns(pl.coalesce(pl.col("next_date") - pl.duration(days=1), pl.col("last_end")).alias("end"))
        )
        ae_keys = {"subject": pl.String, "ae_number": pl.Int64, "term": pl.String, "verbatim": pl.String,
                   "grade": pl.Int64, "onset": pl.Date, "onset__lo": pl.Date, "end": pl.Date,
                   "end__hi": pl.Date, "ongoing": pl.Boolean, "serious": pl.Boolean, "action": pl.String,
                   "outcome": pl.String, "immune": pl.Boolean}
        ae_keys.update({f"related__{name}": pl.Boolean for name in profile.related_drug_names})
        self.ae_df = sheet_frame(wb, "AdverseEvents", ae_keys).with_columns(
            pl.coalesce("onset__lo", "onset").alias("start"), pl.coalesce("end__hi", "end").alias("stop"))
        self.vitals_df = sheet_frame(wb, "Vitals", {"subject": pl.String, "date": pl.Date, "sbp": pl.Float64,
                                                    "dbp": pl.Float64, "weight": pl.Float64, "ecog": pl.Int64})
        self.tumor_df = sheet_frame(wb, "Tumor", {"subject": pl.String, "date": pl.Date, "lesion": pl.String,
                                                  "lesion_type": pl.String, "location": pl.String,
                                                  "diameter": pl.Float64, "nt_status": pl.String,
                                                  "inv_response": pl.String})
        self.labs = self._labs(labs)
        # tumour assessments: the profile's [recist], or scans entered anyway (shown, never hidden)
        self.has_tumour = profile.has("recist") or self.tumor_df.filter(pl.col("subject").is_not_null()).height > 0
        self.marker_tests = tuple(m.get("test") for m in profile.markers)
        self.first_dose = dict(
            self.cycles_df.filter(pl.col("action").is_in(["Given", "Reduced", "Delayed"]) & pl.col("date").is_not_null()
                                  & pl.col("dose").is_not_null() & (pl.col("date") <= self.today))
            .group_by("subject").agg(pl.col("date").min()).iter_rows())
        self.by_subject = {
            "cycles": rows_by_subject(self.cycles_df.sort("subject", "cycle", "date", "_row")),
            "ae": rows_by_subject(self.ae_df.sort("subject", "ae_number", "_row")),
            "labs": rows_by_subject(self.labs),
            "vitals": rows_by_subject(self.with_cycle(self.vitals_df).sort("subject", "date", "_row")),
            "tumor": rows_by_subject(self.with_cycle(self.tumor_df).sort("subject", "date", "_row")),
            "ctab": rows_by_subject(self.cycle_table),
        }
        self._subject_rows = {}
        for r in self.subjects_df.to_dicts():
            self._subject_rows.setdefault(r["subject"], r)
        self.findings = index_findings(self)

    def _last_end(self) -> pl.Expr:
        """Where a cycle ends when no later cycle starts: `cycle_days` after its date; a period
        of continuous dosing on its End date, else at the run date."""
        if self.cycle_days is not None:
            return pl.col("date") + pl.duration(days=self.cycle_days - 1)
        return pl.coalesce(pl.col("end_date"), pl.lit(self.today, dtype=pl.Date))

    def arm_of(self, sid):
        """The profile's Arm of the subject, None when the study has no arms or it is not known."""
        return self.profile.arm(self.subject_row(sid).get("arm")) if self.profile.arms else None

    def subject_drugs(self, sid) -> tuple:
        """The drugs the subject gets: those of their arm; without arms every drug; with an
        unknown arm the drugs recorded for the subject (nothing is assumed)."""
        if not self.profile.arms:
            return tuple(d.name for d in self.drugs)
        arm = self.arm_of(sid)
        if arm is not None:
            return arm.drug_names
        seen = {self.lookup.get(norm(r["drug"])) for r in self.by_subject["cycles"].get(sid, []) if r["drug"]}
        return tuple(d.name for d in self.drugs if d.name in seen)

    def subject_row(self, sid) -> dict:
        """The subject's row on the Subjects sheet (the first, when the id is repeated)."""
        return self._subject_rows.get(sid, {})

    # ---------------------------------------------------------------- attaching by date
    def with_cycle(self, df: pl.DataFrame, on: str = "date") -> pl.DataFrame:
        """Add `cycle` (the cycle whose window holds the date) and `predose` (within
        predose_lab_days before or on the dose date) to a frame with subject and a date."""
        if df.height == 0:
            return df.with_columns(pl.lit(None, dtype=pl.Int64).alias("cycle"),
                                   pl.lit(False).alias("predose"))
        # a window ends where the next one starts; the last one a cycle length after its dose
        ct = self.cycle_table.select(
            "subject", "window_start", pl.col("cycle").alias("__cycle"), pl.col("date").alias("__dose"),
            pl.coalesce(pl.col("window_start").shift(-1).over("subject") - pl.duration(days=1),
                        pl.col("last_end")).alias("__until"))
        left = df.with_row_index("__i").with_columns(pl.col(on).alias("__on"))
        dated = left.filter(pl.col("__on").is_not_null() & pl.col("subject").is_not_null()).sort("__on")
        joined = dated.join_asof(ct.sort("window_start"), left_on="__on", right_on="window_start",
                                 by="subject", strategy="backward", check_sortedness=False)
        inside = pl.col("__on") <= pl.col("__until")
        joined = joined.select("__i", pl.when(inside).then(pl.col("__cycle")).alias("__cycle"),
                               (inside & (pl.col("__on") <= pl.col("__dose"))).fill_null(False).alias("predose"))
        out = left.join(joined, on="__i", how="left").sort("__i")
        return out.drop("__i", "__on").rename({"__cycle": "cycle"}).with_columns(pl.col("predose").fill_null(False))

    def _labs(self, labs: pl.DataFrame) -> pl.DataFrame:
        need = {"row": pl.Int64, "subject": pl.String, "date": pl.Date, "test": pl.String,
                "test_as_entered": pl.String, "result_text": pl.String, "value": pl.Float64,
                "unit": pl.String, "value_si": pl.Float64, "lln": pl.Float64, "uln": pl.Float64,
                "uln_si": pl.Float64, "ctcae_grade": pl.Int64, "ctcae_term_low": pl.String,
                "ctcae_term_high": pl.String, "ctcae_grade_low": pl.Int64, "ctcae_grade_high": pl.Int64}
        if labs is None or labs.height == 0:
            return pl.DataFrame(schema={**need, "cycle": pl.Int64, "predose": pl.Boolean})
        have = labs.columns
        df = labs.select([(pl.col(k).cast(t, strict=False) if k in have else pl.lit(None, dtype=t)).alias(k)
                          for k, t in need.items()])
        df = df.with_columns(pl.coalesce("test", pl.col("test_as_entered")).alias("test"))
        return self.with_cycle(df).sort("subject", "date", "row")
