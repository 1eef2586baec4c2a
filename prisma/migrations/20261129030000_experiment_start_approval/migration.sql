-- Starting an experiment changes what a surface serves: on a surface that requires approval it
-- is a change request too.
ALTER TYPE "ChangeRequestKind" ADD VALUE 'experiment_start';
