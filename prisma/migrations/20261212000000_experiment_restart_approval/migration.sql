-- Restarting a started experiment with changes (a new analysis phase, with new variants, weights,
-- coverage, targeting or decision rule) changes what a surface serves and how its results are
-- judged: on a surface that requires approval it is a change request too.
ALTER TYPE "ChangeRequestKind" ADD VALUE 'experiment_restart';
